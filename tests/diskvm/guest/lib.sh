#!/bin/bash
# Functions shared by the diskvm boot scripts (sourced, not run).
#
# Results: one line per fact on the second serial port (/dev/ttyS1, a file
# on the host), "DISKVM|<seq>|<scenario>|<key>|<value>", value on one line,
# seq counting from 1 over the whole boot so the host notices a lost line.
# The Go test (tests/diskvm) parses them and asserts; the guest only
# reports what the real tools say. Every fact is echoed on the console.
#
# Disks are named on the kernel command line, diskvm.disks=name:target,...
# where target is the virtio-scsi target (scsi-id) qemu attached the image
# at; disk NAME prints its /dev node.

RESULTS_TTY=/dev/ttyS1
INSTALL_SH=/diskvm/scripts/install.sh
GROW_SH=/diskvm/scripts/grow-root.sh
# The node system's store path as nixos-install gets it; the stand-in
# nixos-install (/usr/local/bin) checks it exists.
SYSTEM_PATH=/nix/store/00000000000000000000000000000000-nixos-system-diskvm
VG=nixos-vg
SCRIPT_TIMEOUT=600
SEQ_FILE=/run/diskvm/seq

# The results port stays open (fd 9) from init's first use to the power-off,
# inherited by the boot script: closing and reopening a serial port resets
# the UART and drops what was still in its FIFO.
if ! { : >&9; } 2>/dev/null; then
  exec 9>"$RESULTS_TTY"
fi
mkdir -p /run/diskvm
# LVM warns about every inherited descriptor it did not open (fd 9 here) on
# our own queries; the scripts under test run without fd 9 and without
# this variable (run_install, run_grow).
export LVM_SUPPRESS_FD_WARNINGS=1

# result_line SCENARIO KEY VALUE...: one fact, on the results port and the
# console. No forks: under software emulation each costs.
result_line() {
  local scenario="$1" key="$2" value up _ seq=0
  shift 2
  value="$*"
  value="${value//[$'\n\r\t']/ }"
  read -r up _ </proc/uptime
  [ ! -e "$SEQ_FILE" ] || read -r seq <"$SEQ_FILE"
  seq=$((seq + 1))
  printf '%s\n' "$seq" >"$SEQ_FILE"
  printf 'DISKVM|%s|%s|%s|%s\n' "$seq" "$scenario" "$key" "$value" >&9
  printf 'diskvm-result [%s]: %s %s = %s\n' "$up" "$scenario" "$key" "$value" >&2
}

# console_mark TEXT: a line with the time since boot on the console.
console_mark() {
  local up _
  read -r up _ </proc/uptime
  printf 'diskvm [%s]: %s\n' "$up" "$*" >&2
}

cmdline_disks() {
  local word words
  read -r -a words </proc/cmdline
  for word in "${words[@]}"; do
    case "$word" in
      diskvm.disks=*) printf '%s\n' "${word#diskvm.disks=}" | tr ',' '\n' ;;
    esac
  done
}

# disk NAME: the /dev node of the disk qemu attached as NAME.
disk() {
  local name="$1" entry target node
  while IFS= read -r entry; do
    [ "${entry%%:*}" = "$name" ] || continue
    target="${entry##*:}"
    for node in /sys/bus/scsi/devices/*:0:"$target":0/block/*; do
      if [ -e "$node" ]; then
        printf '/dev/%s' "${node##*/}"
        return 0
      fi
    done
  done < <(cmdline_disks)
  printf 'diskvm: no disk named %s\n' "$name" >&2
  return 1
}

# Waits (bounded) until every disk on the command line has its /dev node.
wait_for_disks() {
  local entry missing start=$SECONDS
  while [ $((SECONDS - start)) -lt 60 ]; do
    missing=""
    while IFS= read -r entry; do
      disk "${entry%%:*}" >/dev/null 2>&1 || missing="$missing ${entry%%:*}"
    done < <(cmdline_disks)
    if [ -z "$missing" ]; then
      return 0
    fi
    udevadm settle --timeout=5 >/dev/null 2>&1 || true
    sleep 1
  done
  result_line "-" boot-error "disks never appeared within 60 s:$missing"
  return 1
}

# lvm_only SCENARIO DEV...: from here on LVM commands (the scripts' too,
# through the inherited LVM_SYSTEM_DIR) see only DEV... and their
# partitions, as in a VM that has only those disks attached. One boot runs
# several such "VMs" in turn: LVM finds nothing else (lsblk and blkid still
# list every disk; the scripts under test only probe their own).
lvm_only() {
  local dir="/run/diskvm/lvm/$1" accept="" dev
  shift
  for dev in "$@"; do
    accept="$accept\"a|^${dev}[0-9]*\$|\", "
  done
  mkdir -p "$dir"
  cat >"$dir/lvm.conf" <<CONF
devices {
  global_filter = [ ${accept}"r|.*|" ]
  hints = "none"
  use_devicesfile = 0
}
global {
  event_activation = 0
}
CONF
  export LVM_SYSTEM_DIR="$dir"
}

# Deactivates every VG the current filter shows (a powered-off VM), and
# removes any device-mapper device left, reporting it.
lvm_release() {
  local scenario="$1" left
  vgchange -an >/dev/null 2>&1 || true
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  left="$(dmsetup ls 2>/dev/null | grep -v '^No devices found' || true)"
  if [ -n "$left" ]; then
    result_line "$scenario" dm-left "$left"
    dmsetup remove_all --force >/dev/null 2>&1 || true
  fi
  unset LVM_SYSTEM_DIR
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
}

# Last non-empty lines of a file, joined with " / ".
tail_lines() {
  grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n "$2" | tr '\n' '\036' | sed 's/\x1e/ \/ /g; s/ \/ $//'
}

# run_install SCENARIO DEV [VAR=value...]: runs the install script on DEV
# with the environment the ISO's nixlab-install service gives it (see
# nixos/modules/installer.nix), NIXLAB_DONE_LINGER=0, plus VAR=value...;
# reports its exit code, status file, last stderr lines and the stand-ins'
# calls.
run_install() {
  local scenario="$1" dev="$2" dir rc=0
  shift 2
  dir="/run/diskvm/$scenario"
  mkdir -p "$dir"
  : >"$dir/standins"
  console_mark "=== $scenario: install.sh on $dev $*"
  env NIXLAB_DISK="$dev" NIXLAB_VG="$VG" NIXLAB_SWAP_GB=0 NIXLAB_SYSTEM="$SYSTEM_PATH" \
    NIXLAB_DISK_WAIT_SECONDS=120 NIXLAB_STATUS_FILE="$dir/status" NIXLAB_MOUNT=/mnt \
    NIXLAB_DONE_LINGER=0 \
    DISKVM_STANDIN_LOG="$dir/standins" "$@" \
    timeout "$SCRIPT_TIMEOUT" env -u LVM_SUPPRESS_FD_WARNINGS \
    bash "$INSTALL_SH" 2>"$dir/stderr" 9>&- || rc=$?
  cat "$dir/stderr" >&2
  result_line "$scenario" install.rc "$rc"
  if [ -e "$dir/status" ]; then
    result_line "$scenario" install.status "$(cat "$dir/status")"
    result_line "$scenario" install.status-lines "$(wc -l <"$dir/status")"
  else
    result_line "$scenario" install.status "<no status file>"
  fi
  result_line "$scenario" install.stderr "$(tail_lines "$dir/stderr" 4)"
  result_line "$scenario" install.standins "$(tr '\n' ';' <"$dir/standins")"
  result_line "$scenario" install.mounted "$(grep -c " /mnt " /proc/mounts || true)"
  result_line "$scenario" install.swaps "$(tail -n +2 /proc/swaps | wc -l)"
}

# run_grow SCENARIO PHASE DEV [VAR=value...]: runs grow-root.sh with the
# environment of the nixlab-grow-root unit (nixos/modules/storage.nix: the
# VG and LV; the script finds DEV itself), the root LV mounted at /mnt as
# on a booted clone; then unmounts. DEV only names the run on the console.
run_grow() {
  local scenario="$1" phase="$2" dev="$3" dir rc=0
  shift 3
  dir="/run/diskvm/$scenario"
  mkdir -p "$dir" /mnt
  console_mark "=== $scenario $phase: grow-root.sh on $dev $*"
  vgchange -ay "$VG" >&2 || result_line "$scenario" "$phase.activate-failed" "vgchange -ay $VG"
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  mount "/dev/$VG/root" /mnt || result_line "$scenario" "$phase.mount-failed" "/dev/$VG/root"
  env -u LVM_SUPPRESS_FD_WARNINGS NIXLAB_VG="$VG" NIXLAB_LV=root "$@" \
    timeout "$SCRIPT_TIMEOUT" bash "$GROW_SH" 2>"$dir/$phase.stderr" 9>&- || rc=$?
  cat "$dir/$phase.stderr" >&2
  umount /mnt || result_line "$scenario" "$phase.umount-failed" "/mnt"
  result_line "$scenario" "$phase.rc" "$rc"
  result_line "$scenario" "$phase.stderr" "$(tail_lines "$dir/$phase.stderr" 4)"
}

# layout_facts SCENARIO PHASE DEV: what the real tools say about DEV's
# partitions, LVM and file systems. Activates VG; the target's files are
# read from a read-only mount.
layout_facts() {
  local scenario="$1" phase="$2" dev="$3" root swap line bs bc
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  result_line "$scenario" "$phase.disk-bytes" "$(blockdev --getsize64 "$dev")"
  result_line "$scenario" "$phase.pttype" "$(blkid -p -o value -s PTTYPE "$dev" || true)"
  while IFS= read -r line; do
    case "$line" in
      [0-9]*) result_line "$scenario" "$phase.part" "$line" ;;
    esac
  done < <(parted -s -m "$dev" unit B print 2>&1)
  while IFS= read -r line; do
    result_line "$scenario" "$phase.blk" "$line"
  done < <(lsblk -b -n -r -p -o NAME,TYPE,SIZE "$dev")
  while IFS= read -r line; do
    result_line "$scenario" "$phase.pv" "$(printf '%s' "$line" | tr -d ' ')"
  done < <(pvs --noheadings --nosuffix --units b --separator , -o pv_name,vg_name,pv_size,pv_free,dev_size 2>/dev/null)
  result_line "$scenario" "$phase.vg" "$(vgs --noheadings --nosuffix --units b --separator , \
    -o vg_name,vg_size,vg_free,vg_extent_size,pv_count,lv_count "$VG" 2>&1 | tr -d ' ')"
  while IFS= read -r line; do
    result_line "$scenario" "$phase.lv" "$(printf '%s' "$line" | tr -d ' ')"
  done < <(lvs --noheadings --nosuffix --units b --separator , -o lv_name,lv_size "$VG" 2>/dev/null)
  vgchange -ay "$VG" >/dev/null 2>&1 || return 0
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  root="/dev/$VG/root"
  swap="/dev/$VG/swap"
  result_line "$scenario" "$phase.fs" "$(blkid -o value -s TYPE "$root"),$(blkid -o value -s LABEL "$root")"
  bc="$(dumpe2fs -h "$root" 2>/dev/null | sed -n 's/^Block count: *//p')"
  bs="$(dumpe2fs -h "$root" 2>/dev/null | sed -n 's/^Block size: *//p')"
  result_line "$scenario" "$phase.fs-bytes" "$((bc * bs))"
  # A full check of a 2.5 TiB ext4 takes minutes under emulation: only
  # below 100 GiB.
  if [ "$(blockdev --getsize64 "$root")" -lt $((100 << 30)) ]; then
    e2fsck -f -n "$root" >&2
    result_line "$scenario" "$phase.fsck-rc" "$?"
  fi
  if [ -e "$swap" ]; then
    result_line "$scenario" "$phase.swap" "$(blkid -o value -s TYPE "$swap"),$(blkid -o value -s LABEL "$swap")"
  fi
  mkdir -p /run/diskvm/inspect
  if mount -o ro "$root" /run/diskvm/inspect; then
    local t=/run/diskvm/inspect
    result_line "$scenario" "$phase.machine-id-bytes" "$(stat -c %s "$t/etc/machine-id" 2>/dev/null || echo missing)"
    result_line "$scenario" "$phase.ssh-host-keys" "$(find "$t/etc/ssh" -name 'ssh_host_*' 2>/dev/null | wc -l)"
    result_line "$scenario" "$phase.random-seed" "$([ -e "$t/var/lib/systemd/random-seed" ] && echo present || echo absent)"
    result_line "$scenario" "$phase.installed-system" "$(cat "$t/etc/diskvm-installed-system" 2>/dev/null || echo missing)"
    umount /run/diskvm/inspect
  fi
}
