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
 * Usage: pyvz-monitor --ctid CTID --init-pid PID --socket PATH --log PATH [--log-max BYTES]
 *            (--console-fd FD --console-peer-fd FD | --adopt --init-start TICKS)
 *            [--loadavg PATH --tasks PATH] [--errlog PATH] -- HANDLER [ARGS...]
 * All paths are absolute.
 *
 * --loadavg PATH --tasks PATH (given together, in both modes): the VE's own load average.
 *   The kernel keeps none per cgroup, so we compute it as it computes the global one
 *   (kernel/sched/loadavg.c; lxcfs does the same): every 5 s, count the threads listed
 *   in the --tasks file (the VE's v1 pids cgroup `tasks`, or v2 `cgroup.threads`) that
 *   are runnable (R) or in uninterruptible sleep (D), and fold that count into the 1, 5
 *   and 15 minute averages.  PATH gets /proc/loadavg's line, "1.00 0.50 0.20 R/T LASTPID"
 *   (R runnable now, T threads, LASTPID always 0), written at once and then every
 *   period, replaced atomically, and removed when we exit or exec the handler.  A
 *   missing or empty tasks file (the cgroup goes away while the VE stops) counts zero.
 *   --loadavg-period-ms N (tests only) samples every N ms instead of 5000; the averages
 *   still use the 5 s constants, so a short period only makes them move faster.
 * --errlog PATH: append our stderr (and so the handler's, which inherits it) to PATH
 *   (0600), opened before anything can warn.  Every warning is one line:
 *   "2024-05-01T12:00:00.000Z pyvz-monitor[CTID]: text".
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
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define BUF_SIZE (16 * 1024)
#define MAX_CLIENTS 32
#define FIXED_FDS 4 /* signalfd, pidfd, listener, console */
#define ADOPT_NOTICE "pyvz-monitor: no console: the monitor was restarted " \
                     "while the container was running\r\n"

/* The kernel's load average fixed point (include/linux/sched/loadavg.h), for a 5 s period. */
#define FSHIFT 11
#define FIXED_1 (1UL << FSHIFT)
#define LOAD_INT(x) ((x) >> FSHIFT)
#define LOAD_FRAC(x) LOAD_INT(((x) & (FIXED_1 - 1)) * 100)
static const unsigned long load_exp[3] = { 1884, 2014, 2037 }; /* EXP_1, EXP_5, EXP_15 */

static struct {
	const char *ctid, *socket_path, *log_path, *loadavg_path, *tasks_path;
	pid_t init_pid;
	int console_fd, peer_fd;
	unsigned long long init_start, log_max, load_period_ms;
	int adopt;
	char **handler;
} opt = { .console_fd = -1, .peer_fd = -1, .log_max = 1048576, .load_period_ms = 5000 };

static char buf[BUF_SIZE];
static int clients[MAX_CLIENTS];
static int sig_fd = -1, pid_fd = -1, listen_fd = -1, log_fd = -1;
static int console_live; /* cleared on EIO so a dead pty cannot spin poll() */
static unsigned long long log_size;
static int log_warned;
static sigset_t orig_mask;
static unsigned long avenrun[3];      /* fixed point, as the kernel's */
static long long load_deadline;       /* CLOCK_MONOTONIC ms of the next sample */
static int tasks_warned, loadavg_warned;

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil,
 * inverted).  gmtime_r() would load the time zone database into our heap on first use. */
static void civil_date(long long days, int *y, int *m, int *d)
{
	long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;                                    /* [0, 146096] */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
	long long mp = (5 * doy + 2) / 153;                                  /* March = 0 */

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void warn(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;
	char line[512];
	int y, mo, d, n;
	long sec;

	clock_gettime(CLOCK_REALTIME, &ts);
	civil_date(ts.tv_sec / 86400, &y, &mo, &d);
	sec = (long)(ts.tv_sec % 86400);
	/* opt.ctid is set only once validated, so the prefix is short. */
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02ld:%02ld:%02ld.%03ldZ ",
		     y, mo, d, sec / 3600, sec / 60 % 60, sec % 60, ts.tv_nsec / 1000000);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "pyvz-monitor[%s]: ",
		      opt.ctid ? opt.ctid : "?");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
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

enum {
	O_CTID, O_PID, O_CONSOLE, O_PEER, O_START, O_SOCKET, O_LOG, O_LOG_MAX,
	O_LOADAVG, O_TASKS, O_PERIOD, O_ERRLOG, N_OPTS
};
static const char *const opt_names[N_OPTS] = {
	"--ctid", "--init-pid", "--console-fd", "--console-peer-fd",
	"--init-start", "--socket", "--log", "--log-max",
	"--loadavg", "--tasks", "--loadavg-period-ms", "--errlog",
};

/* Make PATH our stderr, so that even a usage error lands there. */
static void errlog_open(const char *path)
{
	int fd;

	if (path[0] != '/')
		return; /* refused as bad usage right after this */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		warn("cannot open error log %s: %s", path, strerror(errno));
		return;
	}
	if (fd == STDERR_FILENO) {
		fcntl(fd, F_SETFD, 0); /* fd 2 was closed: keep it across exec for the handler */
		return;
	}
	dup2(fd, STDERR_FILENO); /* the copy does not inherit O_CLOEXEC */
	close(fd);
}

static void parse_args(int argc, char **argv)
{
	const char *val[N_OPTS] = { 0 };
	const char *bad = NULL, *bad_word = NULL, *msg;
	int i, k;

	/* Collect first and complain after: --errlog may come after the mistake. */
	for (i = 1; i < argc && !opt.handler; i++) {
		if (!strcmp(argv[i], "--")) {
			opt.handler = argv + i + 1;
			continue;
		}
		if (!strcmp(argv[i], "--adopt")) {
			opt.adopt = 1;
			continue;
		}
		msg = NULL;
		for (k = 0; k < N_OPTS && strcmp(argv[i], opt_names[k]); k++)
			;
		if (i + 1 == argc)
			msg = "%s needs a value";
		else if (k == N_OPTS || val[k])
			msg = "unknown or repeated option %s"; /* its value is skipped below */
		else
			val[k] = argv[i + 1];
		if (msg && !bad) {
			bad = msg;
			bad_word = argv[i];
		}
		i++;
	}
	if (val[O_CTID] && *val[O_CTID] && strlen(val[O_CTID]) <= 10 &&
	    strspn(val[O_CTID], "0123456789") == strlen(val[O_CTID]))
		opt.ctid = val[O_CTID]; /* set early: warn() shows it */
	if (val[O_ERRLOG])
		errlog_open(val[O_ERRLOG]);
	if (bad)
		usage_error(bad, bad_word);
	if (!opt.ctid)
		usage_error("%s", "--ctid must be a numeric CTID");
	opt.socket_path = val[O_SOCKET];
	opt.log_path = val[O_LOG];
	opt.loadavg_path = val[O_LOADAVG];
	opt.tasks_path = val[O_TASKS];
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
	if (val[O_PERIOD])
		opt.load_period_ms = parse_num("--loadavg-period-ms", val[O_PERIOD], 3600000);

	if (!opt.handler || !opt.handler[0])
		usage_error("%s", "missing -- HANDLER [ARGS...]");
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
	if (!opt.loadavg_path != !opt.tasks_path || (val[O_PERIOD] && !opt.loadavg_path))
		usage_error("%s", "--loadavg and --tasks go together; --loadavg-period-ms needs them");
	if (opt.loadavg_path && (opt.loadavg_path[0] != '/' || opt.tasks_path[0] != '/'))
		usage_error("%s", "--loadavg and --tasks must be absolute paths");
	if (opt.loadavg_path && strlen(opt.loadavg_path) + 4 >= PATH_MAX)
		usage_error("%s", "--loadavg path is too long");
	if (opt.load_period_ms == 0)
		usage_error("%s", "--loadavg-period-ms must be > 0");
	if (val[O_ERRLOG] && val[O_ERRLOG][0] != '/')
		usage_error("%s", "--errlog must be an absolute path");
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
	if (opt.loadavg_path)
		unlink(opt.loadavg_path); /* no stale averages for a VE that is not watched */
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

/* ---- The VE's load average (--loadavg, --tasks) ---- */

struct load_sample {
	unsigned long active, running, total; /* R or D, R, every thread still there */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A thread's state letter, the field after the last ')' of its stat file; 0 if it is
 * gone.  comm (at most 64 bytes, and it may hold ')') ends well within the first 256.
 * /proc/TID/task/TID/stat, not /proc/TID/stat: for a thread that is not its process's
 * leader the latter is the process view, which sums over every thread on each read. */
static char task_state(unsigned long tid)
{
	char path[48], st[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lu/task/%lu/stat", tid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, st, sizeof(st) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	st[n] = '\0';
	p = strrchr(st, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static void count_task(struct load_sample *s, unsigned long tid)
{
	char state = tid > 0 && tid <= INT_MAX ? task_state(tid) : 0;

	if (!state)
		return; /* exited since the list was read (or not a tid at all) */
	s->total++;
	s->running += state == 'R';
	s->active += state == 'R' || state == 'D';
}

/* Read the tasks file in buf-sized chunks (a VE may have many thousands of threads; buf
 * is free between two console reads); a tid may straddle two chunks.  A file that is
 * gone (ENOENT) or whose cgroup was removed under us (ENODEV) just lists nobody. */
static struct load_sample sample_tasks(void)
{
	struct load_sample s = { 0 };
	unsigned long tid = 0;
	int in_tid = 0, fd;
	ssize_t n;

	fd = open(opt.tasks_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && !tasks_warned++)
			warn("cannot open %s: %s", opt.tasks_path, strerror(errno));
		return s;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ENODEV && !tasks_warned++)
				warn("cannot read %s: %s", opt.tasks_path, strerror(errno));
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				if (tid <= INT_MAX) /* anything larger is no tid; just don't overflow */
					tid = tid * 10 + (unsigned)(buf[i] - '0');
				in_tid = 1;
			} else if (in_tid) {
				count_task(&s, tid);
				tid = 0;
				in_tid = 0;
			}
		}
	}
	if (in_tid)
		count_task(&s, tid);
	if (n == 0)
		tasks_warned = 0; /* a later failure is news again */
	close(fd);
	return s;
}

/* kernel/sched/loadavg.c calc_load(); active is the task count times FIXED_1. */
static unsigned long calc_load(unsigned long load, unsigned long exp, unsigned long active)
{
	unsigned long newload = load * exp + active * (FIXED_1 - exp);

	if (active >= load)
		newload += FIXED_1 - 1;
	return newload / FIXED_1;
}

/* Replace the file atomically, so a reader never sees half a line. */
static void loadavg_write(const struct load_sample *s)
{
	char line[128], tmp[PATH_MAX];
	unsigned long a[3];
	int fd, len, ok;

	/* Like /proc/loadavg: + FIXED_1/200 rounds to two decimals instead of truncating. */
	for (int i = 0; i < 3; i++)
		a[i] = avenrun[i] + FIXED_1 / 200;
	len = snprintf(line, sizeof(line), "%lu.%02lu %lu.%02lu %lu.%02lu %lu/%lu 0\n",
		       LOAD_INT(a[0]), LOAD_FRAC(a[0]), LOAD_INT(a[1]), LOAD_FRAC(a[1]),
		       LOAD_INT(a[2]), LOAD_FRAC(a[2]), s->running, s->total);
	snprintf(tmp, sizeof(tmp), "%s.new", opt.loadavg_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	ok = fd >= 0 && write(fd, line, (size_t)len) == len;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	if (ok && rename(tmp, opt.loadavg_path) == 0) {
		loadavg_warned = 0;
		return;
	}
	if (!loadavg_warned++) /* once per failing streak: we retry every period */
		warn("cannot write %s: %s", opt.loadavg_path, strerror(errno));
	if (fd >= 0)
		unlink(tmp);
}

/* The first line goes out at once: zero averages, current counts. */
static void loadavg_start(void)
{
	struct load_sample s;

	if (!opt.loadavg_path)
		return;
	s = sample_tasks();
	loadavg_write(&s);
	load_deadline = mono_ms() + (long long)opt.load_period_ms;
}

/* The poll() timeout until the next sample is due; -1 without --loadavg. */
static int loadavg_timeout(void)
{
	long long left;

	if (!opt.loadavg_path)
		return -1;
	left = load_deadline - mono_ms();
	return left > 0 ? (int)left : 0; /* left <= one period, which fits an int */
}

/* Sample and fold, if due.  Periods missed while we were stopped or starved are folded
 * in with this sample, as the kernel does after a tickless idle; the deadline keeps its
 * phase, so the period does not drift with how long each sample takes. */
static void loadavg_tick(void)
{
	unsigned long long periods;
	struct load_sample s;
	long long late;

	if (!opt.loadavg_path || (late = mono_ms() - load_deadline) < 0)
		return;
	periods = (unsigned long long)late / opt.load_period_ms + 1;
	load_deadline += (long long)(periods * opt.load_period_ms);
	s = sample_tasks();
	if (periods > 4096)
		periods = 4096; /* 5.7 hours of 5 s periods: every average has converged */
	while (periods--)
		for (int i = 0; i < 3; i++)
			avenrun[i] = calc_load(avenrun[i], load_exp[i], s.active * FIXED_1);
	loadavg_write(&s);
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
	loadavg_start();
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
		if (poll(pfd, (nfds_t)n, loadavg_timeout()) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll: %s", strerror(errno));
			shutdown_io();
			exit(1);
		}
		loadavg_tick();
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
