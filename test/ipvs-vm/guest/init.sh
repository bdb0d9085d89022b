#!/bin/busybox sh
# Stage 1, the initramfs's /init (built by initramfs.ts: static busybox, a few modules, this).
#
# Loads virtio, 9p and overlay from /modules (modules.list: dependency order), mounts the host's
# root read-only over 9p (tag hostroot) under a tmpfs overlay, bind-mounts the guest kernel's
# module tree onto /lib/modules/<release>, mounts the writable share (tag klshare) at the same
# path as on the host, then switch_root into the overlay, where PID 1 is a shell that runs the
# command runner (guest/runner.ts) under the host's Node and powers off when it ends.
#
# Parameters come from the kernel command line as environment variables (the kernel hands
# unknown name=value parameters to init): klvm_project, klvm_node, klvm_busybox, klvm_modules,
# klvm_share, klvm_runner (guest/runner.ts with its types stripped by the host).
/bin/busybox mkdir -p /bin /proc /sys /dev /mnt/lower /mnt/rw /mnt/root
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
  echo "klvm-init: FATAL: $*" >&2
  echo "klvm-init: dmesg tail:" >&2
  dmesg | tail -n 30 >&2
  poweroff -f
  sleep 5
  echo o > /proc/sysrq-trigger
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"

echo "klvm-init: stage1 start $(cat /proc/uptime)"
for m in $(cat /modules.list); do
  insmod "/modules/$m" || fail "insmod $m"
done

# msize 500 KB (virtio's maximum): fewer, larger 9p round trips (the default 8 KiB makes node's startup crawl).
NINEP=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$NINEP,ro,cache=loose" hostroot /mnt/lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "mount tmpfs for the overlay"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /mnt/root \
  || fail "mount overlay"

R=/mnt/root
KREL=$(uname -r)
mkdir -p "$R/lib/modules/$KREL" || fail "mkdir /lib/modules/$KREL"
mount --bind "$R$klvm_modules" "$R/lib/modules/$KREL" || fail "bind $klvm_modules"

mount -t proc proc "$R/proc" || fail "mount proc"
mount -t sysfs sysfs "$R/sys" || fail "mount sys"
mount -t devtmpfs devtmpfs "$R/dev" || fail "mount dev"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
# A project checked out under /tmp or /run (a CI clone) would vanish under the fresh tmpfs:
# hold it by a bind mount first and put it back on top.
case "$klvm_project" in
  /tmp/*|/run/*)
    mkdir -p /mnt/project && mount --bind "$R$klvm_project" /mnt/project || fail "hold $klvm_project" ;;
esac
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp" || fail "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs "$R/run" || fail "mount /run"
mkdir -p "$R/run/netns"
case "$klvm_project" in
  /tmp/*|/run/*)
    mkdir -p "$R$klvm_project" && mount --bind /mnt/project "$R$klvm_project" || fail "bind $klvm_project" ;;
esac

mkdir -p "$R$klvm_share" || fail "mkdir $klvm_share"
mount -t 9p -o "$NINEP,cache=none" klshare "$R$klvm_share" || fail "mount 9p klshare"

hostname kubelived-vm
ip link set lo up

[ -x "$R$klvm_node" ] || fail "no node at $klvm_node"
[ -x "$R$klvm_busybox" ] || fail "no busybox at $klvm_busybox"

export HOME=/root PATH=$klvm_project/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
# PID 1 from here on: a shell that waits for the runner (and reaps orphans meanwhile, its wait is
# waitpid(-1)), then powers off; qemu runs with -no-reboot, so the VM ends either way.
echo "klvm-init: switch_root $(cat /proc/uptime)"
exec switch_root "$R" "$klvm_busybox" sh -c '
  cd "$klvm_project" || echo "klvm-init: no project at $klvm_project" >&2
  "$klvm_node" "$klvm_runner"
  echo "klvm-init: runner exited with $?" >&2
  sync
  poweroff -f
'
