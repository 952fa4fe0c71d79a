/*
 * pyvz-monitor: the per-VE monitor process.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o pyvz/libexec/pyvz-monitor csrc/pyvz-monitor.c
 *
 * `vzctl start` forks M, M clones the VE's init I, then M execs this program, so we stay
 * I's parent for the VE's whole life.  We hold the console pty master, copy console
 * output to a size-capped log and to clients on a unix socket, feed client input back
 * to the console, and when I exits we reap it (the wait status is the only way to tell
 * reboot, SIGHUP, from halt, SIGINT) and exec the handler with the status appended.
 * In --adopt mode a replacement monitor watches an already running I through a pidfd;
 * it cannot reap I, so the handler gets "unknown", and it has no console: the old
 * master died with the old monitor.  Its socket answers each client with one notice.
 *
 * This runs for every VE, so it stays tiny: no stdio buffers, no per-byte allocation,
 * one static buffer, one poll() loop.
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 setup failure, 2 bad usage, 3 --adopt target
 * not running or not the same process, 127 handler exec failed; otherwise whatever
 * the handler returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define BUF_SIZE (16 * 1024)
#define MAX_CLIENTS 32
#define FIXED_FDS 4 /* signalfd, pidfd, listener, console */
#define ADOPT_NOTICE "pyvz-monitor: no console: the monitor was restarted " \
                     "while the container was running\r\n"

static struct {
	const char *ctid, *socket_path, *log_path;
	pid_t init_pid;
	int console_fd, peer_fd;
	unsigned long long init_start, log_max;
	int adopt;
	char **handler;
} opt = { .console_fd = -1, .peer_fd = -1, .log_max = 1048576 };

static char buf[BUF_SIZE];
static int clients[MAX_CLIENTS];
static int sig_fd = -1, pid_fd = -1, listen_fd = -1, log_fd = -1;
static int console_live; /* cleared on EIO so a dead pty cannot spin poll() */
static unsigned long long log_size;
static int log_warned;
static sigset_t orig_mask;

static void warn(const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int n = snprintf(line, sizeof(line), "pyvz-monitor[%s]: ", opt.ctid ? opt.ctid : "?");

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	/* One write() per line: stderr may be a log shared with other writers. */
	if (write(STDERR_FILENO, line, strlen(line)) < 0) {
		/* nowhere left to complain */
	}
}

static void usage_error(const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	warn("bad usage: %s", msg);
	exit(2);
}

/* Decimal digits only: strtoull alone would accept "-1", " 7" and "7x". */
static unsigned long long parse_num(const char *name, const char *s, unsigned long long max)
{
	unsigned long long v = 0;

	if (!*s)
		usage_error("%s needs a number", name);
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (unsigned)(*s - '0')) / 10)
			usage_error("%s: not a number in range", name);
		v = v * 10 + (unsigned)(*s - '0');
	}
	return v;
}

enum { O_CTID, O_PID, O_CONSOLE, O_PEER, O_START, O_SOCKET, O_LOG, O_LOG_MAX, N_OPTS };
static const char *const opt_names[N_OPTS] = {
	"--ctid", "--init-pid", "--console-fd", "--console-peer-fd",
	"--init-start", "--socket", "--log", "--log-max",
};

static void parse_args(int argc, char **argv)
{
	const char *val[N_OPTS] = { 0 };
	int i, k;

	for (i = 1; i < argc && !opt.handler; i++) {
		if (!strcmp(argv[i], "--")) {
			opt.handler = argv + i + 1;
			continue;
		}
		if (!strcmp(argv[i], "--adopt")) {
			opt.adopt = 1;
			continue;
		}
		for (k = 0; k < N_OPTS && strcmp(argv[i], opt_names[k]); k++)
			;
		if (k == N_OPTS || val[k])
			usage_error("unknown or repeated option %s", argv[i]);
		if (i + 1 == argc)
			usage_error("%s needs a value", argv[i]);
		val[k] = argv[++i];
	}
	opt.ctid = val[O_CTID];
	opt.socket_path = val[O_SOCKET];
	opt.log_path = val[O_LOG];
	if (val[O_PID])
		opt.init_pid = (pid_t)parse_num("--init-pid", val[O_PID], INT_MAX);
	if (val[O_CONSOLE])
		opt.console_fd = (int)parse_num("--console-fd", val[O_CONSOLE], INT_MAX);
	if (val[O_PEER])
		opt.peer_fd = (int)parse_num("--console-peer-fd", val[O_PEER], INT_MAX);
	if (val[O_START])
		opt.init_start = parse_num("--init-start", val[O_START], ULLONG_MAX);
	if (val[O_LOG_MAX])
		opt.log_max = parse_num("--log-max", val[O_LOG_MAX], ULLONG_MAX);

	if (!opt.handler || !opt.handler[0])
		usage_error("%s", "missing -- HANDLER [ARGS...]");
	if (!opt.ctid || !*opt.ctid || strlen(opt.ctid) > 10 ||
	    strspn(opt.ctid, "0123456789") != strlen(opt.ctid))
		usage_error("%s", "--ctid must be a numeric CTID");
	if (!opt.init_pid)
		usage_error("%s", "--init-pid is required and must be > 0");
	if (!opt.socket_path || !opt.log_path)
		usage_error("%s", "--socket and --log are required");
	/* We chdir("/") so the monitor never pins a VE mount; relative paths would break. */
	if (opt.socket_path[0] != '/' || opt.log_path[0] != '/')
		usage_error("%s", "--socket and --log must be absolute paths");
	if (strchr(opt.handler[0], '/') && opt.handler[0][0] != '/')
		usage_error("%s", "HANDLER must be absolute or a bare name looked up in PATH");
	if (strlen(opt.socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		usage_error("%s", "--socket path is too long");
	if (strlen(opt.log_path) + 2 >= PATH_MAX)
		usage_error("%s", "--log path is too long");
	if (opt.log_max == 0)
		usage_error("%s", "--log-max must be > 0");
	if (opt.adopt) {
		if (!val[O_START] || opt.console_fd >= 0 || opt.peer_fd >= 0)
			usage_error("%s", "--adopt needs --init-start and takes no console fds");
		return;
	}
	if (val[O_START])
		usage_error("%s", "--init-start is only valid with --adopt");
	if (opt.console_fd < 3 || opt.peer_fd < 3 || opt.console_fd == opt.peer_fd)
		usage_error("%s", "--console-fd and --console-peer-fd must be two distinct fds >= 3");
	if (!isatty(opt.console_fd) || !isatty(opt.peer_fd))
		usage_error("%s", "--console-fd and --console-peer-fd must be open pty fds");
}

/* Close whatever else M left open: a stray pipe end held for the VE's lifetime can
 * hang whoever waits for its EOF.  Everything we open later is O_CLOEXEC. */
static void close_inherited(void)
{
	int lo = opt.console_fd < opt.peer_fd ? opt.console_fd : opt.peer_fd;
	int hi = opt.console_fd < opt.peer_fd ? opt.peer_fd : opt.console_fd;

	if (opt.adopt) {
		close_range(3, ~0U, 0);
		return;
	}
	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
	fcntl(opt.console_fd, F_SETFD, FD_CLOEXEC);
	fcntl(opt.peer_fd, F_SETFD, FD_CLOEXEC);
	fcntl(opt.console_fd, F_SETFL, fcntl(opt.console_fd, F_GETFL) | O_NONBLOCK);
	console_live = 1;
}

static void log_open(void)
{
	struct stat st;

	log_fd = open(opt.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (log_fd < 0) {
		/* Keep running without a log: the VE matters more than its console log. */
		if (!log_warned++)
			warn("cannot open log %s: %s", opt.log_path, strerror(errno));
		return;
	}
	log_size = fstat(log_fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
}

static void log_rotate(void)
{
	char old[PATH_MAX];

	snprintf(old, sizeof(old), "%s.1", opt.log_path);
	if (rename(opt.log_path, old) < 0 && !log_warned++)
		warn("cannot rotate log %s: %s", opt.log_path, strerror(errno));
	close(log_fd);
	log_open();
}

static void log_write(const char *p, size_t n)
{
	if (log_fd < 0)
		log_open(); /* retry cheaply: only runs when there is output */
	while (log_fd >= 0 && n > 0) {
		/* Only a single read larger than the cap is ever split across files. */
		size_t chunk = n < opt.log_max ? n : (size_t)opt.log_max;
		ssize_t w;

		if (log_size > 0 && log_size + chunk > opt.log_max) {
			log_rotate();
			continue;
		}
		w = write(log_fd, p, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* disk full etc.: drop it; never stall the VE console */
		log_size += (size_t)w;
		p += w;
		n -= (size_t)w;
	}
}

static void drop_client(int i)
{
	close(clients[i]);
	clients[i] = -1;
}

/* A client that cannot take the whole chunk right now is dropped: queueing for it would
 * cost memory, and blocking would stall the VE's console for everyone. */
static void broadcast(const char *p, size_t n)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i] >= 0 && send(clients[i], p, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
			drop_client(i);
}

/* Returns 0 once the master has nothing more to give right now. */
static int pump_console(void)
{
	ssize_t n;

	if (!console_live)
		return 0;
	n = read(opt.console_fd, buf, sizeof(buf));
	if (n > 0) {
		log_write(buf, (size_t)n);
		broadcast(buf, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EINTR))
		return 1;
	if (n == 0 || errno != EAGAIN)
		console_live = 0; /* EIO: no slave left; should not happen while we hold the peer */
	return 0;
}

static void open_listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int atomic = strlen(opt.socket_path) + 4 < sizeof(sa.sun_path);
	mode_t old_umask;
	int fd, ok;

	/* Bind under a temporary name and rename() into place: the path then appears only
	 * once it accepts connections (a client racing our start gets no ECONNREFUSED), and
	 * rename() replaces a stale socket.  Paths too long for the suffix bind directly. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), atomic ? "%s.new" : "%s", opt.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		warn("socket: %s", strerror(errno));
		return;
	}
	unlink(sa.sun_path);
	old_umask = umask(0177); /* bind() creates the file 0777 & ~umask: 0600 */
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 16) == 0 &&
	     (!atomic || rename(sa.sun_path, opt.socket_path) == 0);
	umask(old_umask);
	if (!ok) {
		/* Without a socket the VE still runs and still gets cleaned up; just no console. */
		warn("cannot listen on %s: %s", opt.socket_path, strerror(errno));
		unlink(sa.sun_path);
		close(fd);
		return;
	}
	listen_fd = fd;
}

static void accept_clients(void)
{
	int fd, i;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (opt.adopt)
			send(fd, ADOPT_NOTICE, sizeof(ADOPT_NOTICE) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		for (i = 0; !opt.adopt && i < MAX_CLIENTS && clients[i] >= 0; i++)
			;
		if (opt.adopt || i == MAX_CLIENTS)
			close(fd); /* the client sees EOF at once rather than hanging in the backlog */
		else
			clients[i] = fd;
	}
}

static void client_input(int i)
{
	ssize_t n = read(clients[i], buf, sizeof(buf));

	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		drop_client(i);
		return;
	}
	/* Non-blocking: if the VE is not reading its console, the keystrokes are lost. */
	if (console_live && write(opt.console_fd, buf, (size_t)n) < 0) {
		/* EAGAIN: dropped on purpose */
	}
}

/* Tear down everything of ours; the VE itself is never touched. */
static void shutdown_io(void)
{
	/* Bounded: after SIGTERM a VE may still be printing and would keep us here forever. */
	for (int i = 0; i < 64 && pump_console(); i++)
		;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i] >= 0)
			drop_client(i);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(opt.socket_path);
	}
	/* No fd of ours may leak into the handler, even though all are O_CLOEXEC. */
	close_range(3, ~0U, 0);
}

static void run_handler(const char *status)
{
	size_t n = 0;
	char **argv;

	shutdown_io();
	while (opt.handler[n])
		n++;
	argv = calloc(n + 2, sizeof(*argv));
	if (!argv) {
		warn("out of memory");
		exit(127);
	}
	memcpy(argv, opt.handler, n * sizeof(*argv));
	argv[n] = (char *)status;
	/* Ignored dispositions and the blocked mask survive exec; give the handler a clean
	 * slate, as if it had been started directly. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	execvp(argv[0], argv);
	warn("cannot exec handler %s: %s", argv[0], strerror(errno));
	exit(127);
}

static void init_exited(int status)
{
	char word[16];

	snprintf(word, sizeof(word), "%d", status);
	run_handler(word);
}

/* Reap every child that exited (M may have left others); if one is init, run the handler. */
static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0)
		if (pid == opt.init_pid)
			init_exited(status);
}

/* Field 22 of /proc/PID/stat.  The comm field may hold spaces and ')', so count from
 * the last ')'. */
static int read_starttime(pid_t pid, unsigned long long *out)
{
	char path[32], st[2048], *p;
	int fd, field = 2;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, st, sizeof(st) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	st[n] = '\0';
	p = strrchr(st, ')');
	if (!p)
		return -1;
	while (*++p) {
		if (*p == ' ')
			continue;
		if (++field == 22)
			return sscanf(p, "%llu", out) == 1 ? 0 : -1;
		while (p[1] && p[1] != ' ')
			p++;
	}
	return -1;
}

static void setup(void)
{
	sigset_t mask;
	unsigned long long start;
	siginfo_t info;
	char name[16];

	snprintf(name, sizeof(name), "pyvz-mon:%s", opt.ctid);
	prctl(PR_SET_NAME, name);
	/* Don't pin the cwd's mount (it may be the VE's), and leave the caller's session so
	 * a Ctrl-C or hang-up at the `vzctl start` terminal does not reach us. */
	if (chdir("/") < 0)
		warn("chdir /: %s", strerror(errno));
	setsid();
	close_inherited();

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &orig_mask);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	/* The pidfd is how we notice init's exit: it also fires if init died before we
	 * started (its SIGCHLD went to M and was lost) or if M cloned it without SIGCHLD. */
	pid_fd = (int)syscall(SYS_pidfd_open, opt.init_pid, 0);
	if (sig_fd < 0 || (pid_fd < 0 && errno != ESRCH)) {
		warn("signalfd/pidfd_open: %s", strerror(errno));
		exit(1);
	}
	if (opt.adopt) {
		/* pidfd first, then the check: the pidfd then names the process we checked. */
		if (pid_fd < 0 || read_starttime(opt.init_pid, &start) < 0 || start != opt.init_start) {
			warn("pid %d is not the container's init (gone or pid reused)", (int)opt.init_pid);
			exit(3);
		}
	} else if (pid_fd < 0 ||
		   waitid(P_PID, (id_t)opt.init_pid, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0) {
		/* WNOWAIT: only ask whether it is our child; reaping it here would lose the status. */
		warn("pid %d is not a child of this process", (int)opt.init_pid);
		exit(1);
	} else {
		log_open();
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i] = -1;
	open_listener();
}

int main(int argc, char **argv)
{
	struct pollfd pfd[FIXED_FDS + MAX_CLIENTS];
	int slot[FIXED_FDS + MAX_CLIENTS];

	parse_args(argc, argv);
	setup();

	for (;;) {
		struct signalfd_siginfo si;
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = pid_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = console_live ? opt.console_fd : -1, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (clients[i] >= 0) {
				slot[n] = i;
				pfd[n++] = (struct pollfd){ .fd = clients[i], .events = POLLIN };
			}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll: %s", strerror(errno));
			exit(1);
		}
		while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				reap();
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				shutdown_io();
				return 0;
			}
		}
		if (pfd[1].revents) {
			/* init has exited.  Our child (normal mode): a zombie, so this wait returns at
			 * once with the real status.  Not our child (--adopt): ECHILD at once. */
			int status;

			if (waitpid(opt.init_pid, &status, __WALL) == opt.init_pid)
				init_exited(status);
			run_handler("unknown");
		}
		if (pfd[3].revents)
			pump_console();
		if (pfd[2].revents)
			accept_clients();
		for (int k = FIXED_FDS; k < n; k++)
			/* The broadcast above may have dropped (and recycled) this slot. */
			if (pfd[k].revents && clients[slot[k]] == pfd[k].fd)
				client_input(slot[k]);
	}
}
