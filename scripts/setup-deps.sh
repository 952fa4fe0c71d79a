#!/bin/sh
# Install the Debian packages pyvz needs (idempotent: does nothing when all are present).
# Usage: scripts/setup-deps.sh [extra packages...]
set -eu
PKGS="python3 python3-venv python3-dev busybox-static gcc libc6-dev make tar gzip xz-utils zstd iproute2 procps util-linux nftables btrfs-progs e2fsprogs quota lxcfs qemu-system-x86 kmod mmdebstrap debian-archive-keyring apt $*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "Installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
