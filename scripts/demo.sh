#!/bin/sh
# The OpenVZ overview's session on the built-in busybox template (run by `make demo`).
# VZ_ROOT keeps the demo's configs, private areas and templates in one directory of its own.
set -u
: "${VZ_ROOT:=/var/lib/pyvz-demo}"
export VZ_ROOT
CT=101
# The node side runs in a network namespace of the demo's own (no route out): the address
# the demo assigns gets its routes and proxy-ARP entries there, never on this machine's
# network.  A real node runs the same commands without it.
NS=pyvz-demo
[ -e "/run/netns/$NS" ] || ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up

node() { nsenter --net="/run/netns/$NS" "$@"; }

run() {
    printf '\n# %s\n' "$*"
    node "$@"
    rc=$?
    [ "$rc" -eq 0 ] || printf '(exit code %s)\n' "$rc"
    return "$rc"
}

# a previous demo that was interrupted: put the node back to a clean state first
if node vzctl status "$CT" 2>/dev/null | grep -q exist; then
    node vzctl --quiet stop "$CT" >/dev/null 2>&1
    node vzctl --quiet destroy "$CT" >/dev/null 2>&1
fi

echo "pyvz demo (node root: $VZ_ROOT)"
run vzctl create "$CT" --ostemplate busybox || exit 1
run vzctl set "$CT" --ipadd 192.168.4.45 --hostname ve101 --save || exit 1
run vzctl start "$CT" --wait || exit 1
run vzctl exec "$CT" ps ax
run vzctl exec "$CT" hostname
run vzlist -a
run vzctl stop "$CT"
run vzctl destroy "$CT"
run vzlist -a
node pyvz cleanup  # the demo node keeps nothing in the machine's cgroup trees
ip netns del "$NS"
