#!/bin/sh
# System-wide install: a venv under PREFIX, commands linked into BINDIR, a systemd unit
# and a sysctl drop-in.  `make install` / `make uninstall` call this.
#   scripts/install.sh PREFIX BINDIR PYTHON
#   scripts/install.sh --uninstall PREFIX BINDIR
# SYSTEMD_DIR and SYSCTL_DIR (default /etc/systemd/system, /etc/sysctl.d) can point
# elsewhere, e.g. for a test install; the unit is enabled only when systemd runs.
set -eu
COMMANDS="vzctl vzlist pyvz vzubc vzsplit vzcalc vzcfgvalidate vzmemcheck vzcpucheck vzpkg vzpkgcache vzpkgls vzyum vzmigrate"
SYSTEMD_DIR=${SYSTEMD_DIR:-/etc/systemd/system}
SYSCTL_DIR=${SYSCTL_DIR:-/etc/sysctl.d}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = "--uninstall" ]; then
    PREFIX=$2 BINDIR=$3
    if [ -d /run/systemd/system ] && [ "$SYSTEMD_DIR" = /etc/systemd/system ]; then
        systemctl disable pyvz.service >/dev/null 2>&1 || true
    fi
    rm -f "$SYSTEMD_DIR/pyvz.service" "$SYSCTL_DIR/90-pyvz.conf"
    for c in $COMMANDS; do
        if [ -L "$BINDIR/$c" ] && [ "$(readlink "$BINDIR/$c")" = "$PREFIX/bin/$c" ]; then
            rm -f "$BINDIR/$c"
        fi
    done
    rm -rf "$PREFIX"
    echo "pyvz removed from $PREFIX"
    exit 0
fi

PREFIX=$1 BINDIR=$2 PYTHON=$3
[ -x "$here/pyvz/libexec/pyvz-monitor" ] || { echo "build first: make" >&2; exit 1; }
[ -x "$PREFIX/bin/python" ] || "$PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip install -q --upgrade "$here"
"$PREFIX/bin/python" -m compileall -q "$PREFIX/lib" >/dev/null 2>&1 || true
mkdir -p "$BINDIR" "$PREFIX/share/doc/pyvz"
cp "$here/README.md" "$PREFIX/share/doc/pyvz/"
for c in $COMMANDS; do
    ln -sfn "$PREFIX/bin/$c" "$BINDIR/$c"
done
mkdir -p "$SYSTEMD_DIR" "$SYSCTL_DIR"
sed "s|@PREFIX@|$PREFIX|g" "$here/etc/pyvz.service.in" > "$SYSTEMD_DIR/pyvz.service"
cp "$here/etc/sysctl-pyvz.conf" "$SYSCTL_DIR/90-pyvz.conf"
if [ -d /run/systemd/system ] && [ "$SYSTEMD_DIR" = /etc/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable pyvz.service >/dev/null
    sysctl -q -p "$SYSCTL_DIR/90-pyvz.conf" || true
fi
echo "pyvz installed in $PREFIX; commands in $BINDIR: $COMMANDS"
