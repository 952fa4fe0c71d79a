# Runs inside the QEMU guest (stock Debian kernel, pure cgroup v2; see res_qv_setup.sh):
# proves pyvz's memory, pids and cpu limits on real v2 controllers.  Prints KEY: value
# lines for tests/test_res_v2.py.  $BIN is the venv's bin directory.
set -u
modprobe -a fuse overlay 2>/dev/null
# what systemd does on a real v2 host: let the root's children have the controllers
for c in cpu cpuset io memory pids; do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
mkdir -p /tmp/vz && mount -t tmpfs -o size=512m vz /tmp/vz
export VZ_ROOT=/tmp/vz
vz() { "$BIN/vzctl" "$@"; }
N=$("$BIN/python" -c 'from pyvz.paths import node_name_for; print(node_name_for("/tmp/vz"))')
echo "info: $("$BIN/pyvz" info | grep cgroups)"
vz create 201 --ostemplate busybox >/dev/null || echo "create: failed"
vz set 201 --ram 64M --swap 0 --numproc 20 --cpulimit 25 --cpuunits 3000 --save >/dev/null
vz start 201 >/dev/null 2>/tmp/start.err; echo "start: $? $(cat /tmp/start.err | tr '\n' ' ')"
D=/sys/fs/cgroup/$N/201
echo "memory.max: $(cat $D/memory.max)"
echo "memory.swap.max: $(cat $D/memory.swap.max)"
echo "pids.max: $(cat $D/pids.max)"
echo "cpu.max: $(cat $D/cpu.max)"
echo "cpu.weight: $(cat $D/cpu.weight)"
echo "meminfo: $(vz exec 201 grep MemTotal /proc/meminfo)"
vz exec 201 dd if=/dev/zero of=/dev/null bs=200M count=1 >/dev/null 2>&1; echo "hog: $?"
echo "oom_kill: $(grep oom_kill $D/memory.events | cut -d' ' -f2)"
vz exec 201 'i=0; while [ $i -lt 60 ]; do sleep 20 & i=$((i+1)); done' >/dev/null 2>&1
echo "pids.events: $(cat $D/pids.events | tr '\n' ' ')"
"$BIN/pyvz" ubc 201 > /tmp/ubc.txt
echo "ubc-numproc: $(grep numproc /tmp/ubc.txt)"
echo "ubc-oomguarpages: $(grep oomguarpages /tmp/ubc.txt)"
vz exec 201 'kill -9 -1' >/dev/null 2>&1
vz exec 201 "timeout 5 sh -c 'while :; do :; done' >/dev/null 2>&1 &" >/dev/null 2>&1
t0=$(cut -d' ' -f1 /proc/uptime); u0=$(grep usage_usec $D/cpu.stat | cut -d' ' -f2); sleep 3
u1=$(grep usage_usec $D/cpu.stat | cut -d' ' -f2); t1=$(cut -d' ' -f1 /proc/uptime)
echo "cpu-usec: $((u1 - u0))"
echo "wall: $t0 $t1"
echo "throttled: $(grep nr_throttled $D/cpu.stat | cut -d' ' -f2)"
vz set 201 --ram 96M >/dev/null 2>&1; echo "live-memory.max: $(cat $D/memory.max)"
vz stop 201 --fast >/dev/null; echo "stopped: $(test -d $D && echo present || echo gone)"
vz destroy 201 >/dev/null
echo "done: yes"
