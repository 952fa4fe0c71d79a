#!/bin/sh
# Prepare a stock Debian kernel and a tiny initramfs for tests/qv_vm.py (QEMU, TCG), after
# /work/shared/reference/qemu-testing.md (recipe B).  Idempotent; root; Debian 12.  Installs
# no kernel into the node: the kernel package is downloaded and extracted under $QV_DIR.
set -eu
QV=${QV_DIR:-/var/cache/pyvz-qv}
if [ -f "$QV/.ready" ]; then exit 0; fi
need=""
for p in qemu-system-x86 busybox-static kmod quota cpio; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
KPKG=$(apt-cache depends linux-image-amd64 | awk '$1=="Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
KVER=${KPKG#linux-image-}
mkdir -p "$QV/debs"
ls "$QV/debs/${KPKG}"_*.deb >/dev/null 2>&1 || (cd "$QV/debs" && apt-get download "$KPKG" 2>/dev/null)
rm -rf "$QV/kernel"
dpkg -x "$QV/debs/${KPKG}"_*.deb "$QV/kernel"
depmod -a -b "$QV/kernel" "$KVER"
# the uncompressed ELF boots through PVH, skipping xz decompression under TCG
python3 - "$QV/kernel/boot/vmlinuz-$KVER" "$QV/kernel/boot/qv-vmlinux-$KVER" <<'PY'
import lzma, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(d[d.find(b"\xfd7zXZ\x00"):]))
PY
T=$(mktemp -d /tmp/pyvz-qv-initramfs.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/mods" "$T/proc" "$T/sys" "$T/dev" "$T/lower" "$T/rw" "$T/newroot"
cp /bin/busybox "$T/bin/busybox"
: > "$T/mods/order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
  for ko in $(modprobe -d "$QV/kernel" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'); do
    b=$(basename "$ko"); grep -qx "$b" "$T/mods/order" && continue
    cp "$ko" "$T/mods/$b"; echo "$b" >> "$T/mods/order"
  done
done
cat > "$T/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "qv: insmod $m failed"; done
die() { echo "qv: $*"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || die "9p mount failed"
mount -t tmpfs -o mode=755 qvrw /rw && mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work qvroot /newroot || die "overlay failed"
[ -n "${qv_out:-}" ] || die "no qv_out= on the kernel command line"
mkdir -p "/newroot$qv_out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 qvout "/newroot$qv_out" || die "out share mount failed"
mkdir -p /newroot/usr/lib/modules /newroot/.qv
ln -sfn "$qv_kdir/lib/modules/$(uname -r)" "/newroot/usr/lib/modules/$(uname -r)"
cp /bin/busybox /stage2 /newroot/.qv/
umount /proc /sys /dev
exec switch_root /newroot /.qv/busybox sh /.qv/stage2
INIT
cat > "$T/stage2" <<'STAGE2'
BB=/.qv/busybox
$BB mount -t proc proc /proc; $BB mount -t sysfs sys /sys; $BB mount -t devtmpfs dev /dev
$BB mkdir -p /dev/pts /dev/shm; $BB mount -t devpts devpts /dev/pts; $BB mount -t tmpfs tmpfs /dev/shm
$BB mount -t tmpfs -o mode=755 tmpfs /run
$BB mount -t cgroup2 cgroup2 /sys/fs/cgroup
$BB hostname qv-guest; $BB stty -F /dev/console -onlcr 2>/dev/null
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb QV_GUEST=1 QV_OUT="$qv_out"
/bin/sh "$qv_out/cmd.sh" </dev/null
rc=$?
echo $rc > "$qv_out/rc"; echo "QV_EXIT=$rc"
$BB sync; $BB poweroff -f
STAGE2
chmod 755 "$T/init"
(cd "$T" && find . | cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) > "$QV/initramfs.cpio.gz"
touch "$QV/.ready"
echo "qv: kernel $KVER ready under $QV"
