#!/usr/bin/env bash
# nixlab unattended installer, run by the ISO's nixlab-install service.
#
# Installs the node system carried on the ISO onto an EMPTY disk, then makes
# the result clone-safe (empty machine-id, no SSH host keys, no random seed)
# and powers off. Layout (GPT, so disks over 2 TiB work; GRUB boots it from
# SeaBIOS through the BIOS boot partition):
#   partition 1  1MiB..2MiB   BIOS boot (bios_grub flag, GRUB's core.img)
#   partition 2  2MiB..100%   LVM PV, VG $NIXLAB_VG with LVs
#                             swap (NIXLAB_SWAP_GB GiB, none when 0) and
#                             root (the rest, ext4 label "nixos")
#
# "Empty": nothing is written unless ALL of these read-only checks pass
# (every one runs, and the refusal lists each finding):
#   1. the kernel lists no partition or other device on the disk (lsblk);
#   2. wipefs finds no signature on the disk (partition tables, filesystems,
#      LVM, RAID, swap: what libblkid probes at the start of the disk);
#   3. blkid --probe finds no filesystem, LVM, RAID or partition table
#      signature at 1 MiB or 2 MiB, where partitions of msdos and GPT layouts
#      (nixlab's old and current one included) start: found even when the
#      partition table in front of them was wiped;
#   4. the first 16 MiB and the last 1 MiB of the disk read as zeros (boot
#      code, partition tables including GPT's backup at the end, LVM labels
#      and metadata, superblocks of anything that starts in the first 16 MiB);
#   5. separately, no volume group named $NIXLAB_VG exists anywhere on the
#      machine (pvs lists every VG name): a second VG of that name would make
#      the install and the node's boot ambiguous.
# Not detected: data elsewhere that carries no signature where probed (raw
# data, or a filesystem that started past 16 MiB under a wiped partition
# table). Wipe a reused disk completely (blkdiscard, or zeros over all of
# it) or attach a new one.
#
# Environment:
#   NIXLAB_DISK          target disk (default /dev/sda); any path the kernel
#                        resolves (e.g. /dev/disk/by-id/...): partitions are
#                        found through lsblk and sysfs, never by name
#   NIXLAB_VG            LVM volume group name (default nixos-vg)
#   NIXLAB_SWAP_GB       swap LV size in GiB, 0 = no swap (default 0)
#   NIXLAB_SYSTEM        store path of the node's system.build.toplevel (required)
#   NIXLAB_STATUS_FILE   status file (default /run/nixlab-install/status)
#   NIXLAB_MOUNT         where the new root is mounted (default /mnt)
#   NIXLAB_DISK_WAIT_SECONDS  how long to wait for the disk to appear
#                        (default 120; polled every 2 s, at least once)
#   NIXLAB_SYSFS         sysfs mount point (default /sys)
#   NIXLAB_DONE_LINGER   seconds to stay up after writing "done" (default 3600):
#                        the pipeline shuts the VM down once it has read "done"
#                        and never converts a VM that stopped without it, so a
#                        pipeline that was interrupted still finds the result
#
# Status file: ONE line "<state>: <message>", state running|done|failed,
# printable ASCII without '"' or '\', at most 1000 characters, replaced
# atomically. A failure names the step and the lines of the failing tool's
# output that carry the cause; once partitioning has begun it also says that
# the disk was modified and how to retry. Messages on stderr.
set -Eeuo pipefail

DISK="${NIXLAB_DISK:-/dev/sda}"
VG="${NIXLAB_VG:-nixos-vg}"
SWAP_GB="${NIXLAB_SWAP_GB:-0}"
SYSTEM="${NIXLAB_SYSTEM:-}"
STATUS_FILE="${NIXLAB_STATUS_FILE:-/run/nixlab-install/status}"
MOUNT="${NIXLAB_MOUNT:-/mnt}"
DISK_WAIT="${NIXLAB_DISK_WAIT_SECONDS:-120}"
SYSFS="${NIXLAB_SYSFS:-/sys}"
DONE_LINGER="${NIXLAB_DONE_LINGER:-3600}"

readonly MIB=1048576
readonly POLL_SECONDS=2
readonly HEAD_ZERO_BYTES=$((16 * MIB))
readonly TAIL_ZERO_BYTES=$((1 * MIB))
readonly MIN_DISK_BYTES=$((32 * MIB))
readonly PROBE_OFFSETS=("$MIB" "$((2 * MIB))")
readonly STATUS_MAX=1000

STEP="starting"
LAST_ERROR=""
FINISHED=0      # 1 once a final status (done/failed) has been written
DISK_MODIFIED=0 # 1 from the moment the first write to the disk may happen
CMD_ERR=""
FAILED_MARK="" # exists once fail() ran, also in a subshell ($(...), pipes)
KNAME=""      # the disk's kernel name (/dev/sda), from lsblk
DISK_BYTES="" # the disk's size, from lsblk
PV=""         # partition 2's kernel name, from lsblk + sysfs

log() {
  printf 'nixlab-install: %s\n' "$*" >&2
}

# Printable ASCII only, no '"' or '\', bounded length.
sanitize() {
  local text
  text="$(printf '%s' "$1" | LC_ALL=C tr -c '[:print:]' ' ' | LC_ALL=C tr -d '\042\134')"
  printf '%s' "${text:0:$STATUS_MAX}"
}

write_status() {
  local state="$1" message dir tmp
  message="$(sanitize "$2")"
  dir="$(dirname "$STATUS_FILE")"
  mkdir -p "$dir"
  tmp="$(mktemp "$dir/.status.XXXXXX")"
  printf '%s: %s\n' "$state" "$message" >"$tmp"
  mv -f "$tmp" "$STATUS_FILE"
}

progress() {
  STEP="$1"
  log "$1"
  write_status running "$1"
}

# What a failure after the first write means for the disk, and what to do.
modified_note() {
  if [ "$DISK_MODIFIED" -eq 1 ]; then
    printf ' -- %s WAS MODIFIED (partitioning had begun) and is no longer empty: to retry, give the VM a new empty disk, or wipe this one from a rescue system (vgremove -f %s; wipefs -a on its partitions, then on %s)' \
      "$DISK" "$VG" "$DISK"
  fi
}

fail() {
  local message
  message="$1$(modified_note)"
  log "FAILED: $message"
  write_status failed "$message"
  FINISHED=1
  : >"$FAILED_MARK"
  exit 1
}

# The lines of a tool's stderr that carry the cause: blank lines and usage
# hints ("Run `lvcreate --help' for more information.") dropped; of the rest
# the last 4 that read like an error, else the last 3; joined with " / ".
cause_lines() {
  local file="$1" lines picked
  lines="$(grep -v -E -e '^[[:space:]]*$' \
    -e "^[[:space:]]*(Run|Try) [\`'][^ ]+ (--help|-h)' for more information" "$file" || true)"
  picked="$(printf '%s\n' "$lines" | grep -i -E \
    'error|fail|cannot|can.t|unable|not found|no such|missing|denied|invalid|refus|abort|not detected|not supported|incompatible|too (small|large)' |
    tail -n 4 || true)"
  if [ -z "$picked" ]; then
    picked="$(printf '%s\n' "$lines" | tail -n 3)"
  fi
  printf '%s\n' "$picked" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | grep -v '^$' |
    awk 'NR > 1 { printf " / " } { printf "%s", $0 }' || true
}

# Run a command; its stderr still reaches our stderr (journal/console), and
# on failure the lines carrying the cause go into the status file.
run() {
  local rc=0
  : >"$CMD_ERR"
  { "$@" 2>&1 1>&3 3>&- | tee "$CMD_ERR" >&2; } 3>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    LAST_ERROR="$(cause_lines "$CMD_ERR")"
    [ -n "$LAST_ERROR" ] || LAST_ERROR="$1 exited with status $rc and printed nothing"
    fail "$STEP: $1 failed (exit $rc): $LAST_ERROR"
  fi
}

# Run a read-only query; prints its stdout. On failure: fail with its cause.
query() {
  local out rc=0
  out="$("$@" 2>"$CMD_ERR")" || rc=$?
  if [ "$rc" -ne 0 ]; then
    LAST_ERROR="$(cause_lines "$CMD_ERR")"
    fail "$STEP: $1 failed (exit $rc): ${LAST_ERROR:-no output}"
  fi
  printf '%s' "$out"
}

on_exit() {
  local rc=$?
  if [ -n "$FAILED_MARK" ] && [ -e "$FAILED_MARK" ]; then
    FINISHED=1 # fail() already wrote the status, maybe from a subshell
  fi
  if [ "$rc" -ne 0 ] && [ "$FINISHED" -eq 0 ]; then
    local message
    message="$STEP: ${LAST_ERROR:-unexpected error (exit status $rc)}$(modified_note)"
    write_status failed "$message" || true
    log "FAILED: $message"
  fi
  [ -z "$CMD_ERR" ] || rm -f "$CMD_ERR" "$FAILED_MARK"
  exit "$rc"
}

on_error() {
  LAST_ERROR="command failed at line $1: $2"
}

check_inputs() {
  STEP="checking settings"
  case "$SWAP_GB" in
    '' | *[!0-9]*) fail "$STEP: NIXLAB_SWAP_GB must be a whole number of GiB, got '$SWAP_GB'" ;;
  esac
  case "$DONE_LINGER" in
    '' | *[!0-9]*) fail "$STEP: NIXLAB_DONE_LINGER must be a whole number of seconds, got '$DONE_LINGER'" ;;
  esac
  case "$DISK_WAIT" in
    '' | *[!0-9]*) fail "$STEP: NIXLAB_DISK_WAIT_SECONDS must be a whole number of seconds, got '$DISK_WAIT'" ;;
  esac
  # lvm(8) VALID NAMES: a-z A-Z 0-9 + _ . -, not starting with '-', not . or ..
  case "$VG" in
    '' | -* | . | .. | *[!A-Za-z0-9+_.-]*)
      fail "$STEP: NIXLAB_VG must be an LVM volume group name (letters, digits, + _ . -; not starting with -), got '$VG'"
      ;;
  esac
  if [ -z "$SYSTEM" ]; then
    fail "$STEP: NIXLAB_SYSTEM (the node system store path) is not set"
  fi
  if [ ! -e "$SYSTEM" ]; then
    fail "$STEP: node system $SYSTEM is missing from the live store"
  fi
}

# Polls every POLL_SECONDS until the disk exists; gives up after DISK_WAIT
# seconds (at least one look).
wait_for_disk() {
  progress "waiting for disk $DISK"
  local attempts=$(((DISK_WAIT + POLL_SECONDS - 1) / POLL_SECONDS)) i
  [ "$attempts" -ge 1 ] || attempts=1
  for ((i = 1; i <= attempts; i++)); do
    udevadm settle --timeout=10 >/dev/null 2>&1 || true
    if [ -e "$DISK" ]; then
      return 0
    fi
    if [ "$i" -lt "$attempts" ]; then
      log "disk $DISK not there yet ($i/$attempts)"
      sleep "$POLL_SECONDS"
    fi
  done
  fail "$STEP: disk $DISK did not appear within $DISK_WAIT s; check the VM's disk (scsi0) and NIXLAB_DISK"
}

# The kernel's view of the disk: name, type and size (lsblk resolves
# symlinks such as /dev/disk/by-id/... to the kernel name).
inspect_disk() {
  STEP="inspecting $DISK"
  local out name type size rest
  out="$(query lsblk --nodeps --noheadings --raw --bytes --paths --output NAME,TYPE,SIZE "$DISK")"
  read -r name type size rest <<<"$out" || true
  case "$type" in
    disk | loop) ;;
    *) fail "$STEP: $DISK is a '${type:-unknown}' device (lsblk: '$out'), not a whole disk; set the disk, not a partition or volume" ;;
  esac
  case "$size" in
    '' | *[!0-9]*) fail "$STEP: lsblk reported no size for $DISK: '$out'" ;;
  esac
  if [ "$size" -lt "$MIN_DISK_BYTES" ]; then
    fail "$STEP: $DISK has $size bytes, less than the $MIN_DISK_BYTES this layout needs"
  fi
  KNAME="$name"
  DISK_BYTES="$size"
  if [ "$KNAME" != "$DISK" ]; then
    log "$DISK is $KNAME"
  fi
}

# Every child device the kernel lists under the disk, as "NAME TYPE" lines.
disk_children() {
  query lsblk --noheadings --raw --paths --output NAME,TYPE "$DISK" | awk 'NR > 1 && NF'
}

# Prints "<TYPE>" of what blkid finds at the byte offset; nothing when
# nothing is there.
probe_at() {
  local offset="$1" out rc=0
  out="$(blkid --probe --offset "$offset" --output export "$DISK" 2>"$CMD_ERR")" || rc=$?
  case "$rc" in
    0) printf '%s\n' "$out" | sed -n -e 's/^TYPE=//p' -e 's/^PTTYPE=/partition table /p' | head -n 1 ;;
    2) ;; # blkid(8): 2 = nothing found
    8) printf 'ambivalent signatures' ;;
    *)
      LAST_ERROR="$(cause_lines "$CMD_ERR")"
      fail "$STEP: blkid --probe at offset $offset failed (exit $rc): ${LAST_ERROR:-no output}"
      ;;
  esac
}

# 0: the range reads as zeros; 1: it does not. Fails when it cannot be read.
zeros_at() {
  local offset="$1" length="$2" rc=0
  cmp -s -n "$length" -i "$offset:0" "$DISK" /dev/zero 2>"$CMD_ERR" || rc=$?
  case "$rc" in
    0) return 0 ;;
    1) return 1 ;;
    *)
      LAST_ERROR="$(cause_lines "$CMD_ERR")"
      fail "$STEP: cannot read $DISK at byte $offset (cmp exit $rc): ${LAST_ERROR:-no output}"
      ;;
  esac
}

# Refuse anything that is not a blank disk (see the top of this file).
# Writes nothing.
check_disk_empty() {
  progress "checking that $DISK is empty"
  local reasons=() out offset found

  out="$(disk_children | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')"
  if [ -n "$out" ]; then
    reasons+=("the kernel lists $out")
  fi

  out="$(query wipefs --no-act --noheadings --output TYPE "$DISK")"
  out="$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tr '\n' ' ' | sed 's/ *$//' || true)"
  if [ -n "$out" ]; then
    reasons+=("signatures on the disk: $out")
  fi

  for offset in "${PROBE_OFFSETS[@]}"; do
    found="$(probe_at "$offset")"
    if [ -n "$found" ]; then
      reasons+=("$found at $((offset / MIB)) MiB")
    fi
  done

  if ! zeros_at 0 "$HEAD_ZERO_BYTES"; then
    reasons+=("non-zero data in the first $((HEAD_ZERO_BYTES / MIB)) MiB")
  fi
  if ! zeros_at "$((DISK_BYTES - TAIL_ZERO_BYTES))" "$TAIL_ZERO_BYTES"; then
    reasons+=("non-zero data in the last $((TAIL_ZERO_BYTES / MIB)) MiB")
  fi

  if [ "${#reasons[@]}" -gt 0 ]; then
    local joined
    joined="$(printf '%s; ' "${reasons[@]}")"
    joined="${joined%; }"
    fail "disk $DISK is not empty ($joined) - refusing to install, nothing was written; attach an empty disk"
  fi
}

# A VG of the same name elsewhere on the machine would collide with ours.
# Lists every PV with its VG name (pvs exits 0 even when two VGs share a
# name, unlike `vgs NAME`, which skips them and exits 5).
check_vg_name_free() {
  progress "checking that no volume group $VG exists"
  local out holders
  out="$(query pvs --noheadings --options pv_name,vg_name,vg_uuid)"
  holders="$(printf '%s\n' "$out" | awk -v vg="$VG" '$2 == vg { printf "%s%s (VG UUID %s)", (n++ ? ", " : ""), $1, $3 }')"
  if [ -n "$holders" ]; then
    fail "volume group $VG already exists on this machine, on $holders - refusing to install, nothing was written to $DISK; detach that disk, rename that VG (vgrename <uuid> <new name>), or choose another VG name"
  fi
}

partition_disk() {
  progress "partitioning $DISK (GPT: BIOS boot + LVM)"
  DISK_MODIFIED=1
  run parted -s "$DISK" -- mklabel gpt \
    mkpart bios 1MiB 2MiB set 1 bios_grub on \
    mkpart lvm 2MiB 100% set 2 lvm on
  run udevadm settle
}

# Partition 2 as the kernel names it: the child of the disk whose sysfs
# "partition" attribute is 2 (block/partitions/core.c names partitions
# <disk><n> or <disk>p<n>; by-id links end in -part<n>: never derive).
find_pv_partition() {
  STEP="finding partition 2 of $DISK"
  local children name type number listed=""
  children="$(disk_children)"
  while read -r name type; do
    [ -n "$name" ] || continue
    listed="$listed $name"
    [ "$type" = part ] || continue
    number="$(cat "$SYSFS/class/block/${name##*/}/partition" 2>/dev/null || true)"
    if [ "$number" = 2 ]; then
      PV="$name"
    fi
  done <<<"$children"
  if [ -z "$PV" ]; then
    fail "$STEP: the kernel lists no partition 2 on $DISK after partitioning (children:${listed:- none})"
  fi
  log "partition 2 of $DISK is $PV"
}

create_volumes() {
  progress "creating LVM volume group $VG on $PV"
  # --devices: LVM sees only our PV, whatever else is attached.
  run pvcreate --devices "$PV" "$PV"
  run vgcreate --devices "$PV" "$VG" "$PV"
  if [ "$SWAP_GB" -gt 0 ]; then
    run lvcreate --devices "$PV" --yes -n swap -L "${SWAP_GB}G" "$VG"
  fi
  run lvcreate --devices "$PV" --yes -n root -l 100%FREE "$VG"
  run udevadm settle
}

format_volumes() {
  progress "formatting /dev/$VG/root (ext4)"
  run mkfs.ext4 -F -L nixos "/dev/$VG/root"
  if [ "$SWAP_GB" -gt 0 ]; then
    run mkswap -L swap "/dev/$VG/swap"
  fi
}

mount_target() {
  progress "mounting /dev/$VG/root at $MOUNT"
  mkdir -p "$MOUNT"
  run mount "/dev/$VG/root" "$MOUNT"
  if [ "$SWAP_GB" -gt 0 ]; then
    run swapon "/dev/$VG/swap"
  fi
}

install_system() {
  progress "installing NixOS (nixos-install)"
  # Offline: everything is in the ISO's store; never wait for a binary cache.
  run nixos-install --system "$SYSTEM" --root "$MOUNT" --no-root-passwd --no-channel-copy --option substituters ""
}

# Every clone must get its own identity: systemd creates a machine-id at the
# first boot when the file is empty, sshd generates host keys when missing,
# and systemd-random-seed would otherwise credit every clone the same seed.
make_clone_safe() {
  progress "preparing the template (machine-id, SSH host keys, random seed)"
  mkdir -p "$MOUNT/etc"
  : >"$MOUNT/etc/machine-id"
  rm -f "$MOUNT"/etc/ssh/ssh_host_*
  rm -f "$MOUNT/var/lib/systemd/random-seed"
}

unmount_target() {
  progress "unmounting $MOUNT"
  run sync
  if [ "$SWAP_GB" -gt 0 ]; then
    run swapoff "/dev/$VG/swap"
  fi
  run umount "$MOUNT"
}

main() {
  CMD_ERR="$(mktemp)"
  FAILED_MARK="$CMD_ERR.failed"
  trap on_exit EXIT
  trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

  progress "starting installation onto $DISK"
  check_inputs
  wait_for_disk
  inspect_disk
  check_disk_empty
  check_vg_name_free
  partition_disk
  find_pv_partition
  create_volumes
  format_volumes
  mount_target
  install_system
  make_clone_safe
  unmount_target

  write_status "done" "NixOS installed on $DISK; waiting for the pipeline to shut the VM down (at the latest in $DONE_LINGER s)"
  FINISHED=1
  log "installation complete; waiting for the pipeline (powering off in $DONE_LINGER s at the latest)"
  # Stay up until the pipeline has read "done" and shuts the VM down: a VM
  # that stops without it is never turned into a template.
  sleep "$DONE_LINGER"
  systemctl poweroff
}

main "$@"
