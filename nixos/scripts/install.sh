#!/usr/bin/env bash
# nixlab unattended installer, run by the ISO's nixlab-install service.
#
# Installs the node system carried on the ISO onto an EMPTY disk:
#   msdos label, partition 1 (1MiB..100%) = LVM PV, VG nixos-vg with LVs
#   swap (NIXLAB_SWAP_GB GiB, skipped when 0) and root (rest, ext4 "nixos"),
#   then nixos-install --system, then makes the result clone-safe (empty
#   machine-id, no SSH host keys) and powers off.
#
# It never destroys data: a disk with any signature, partition, nixos-vg
# volume group or non-zero byte in its first MiB is refused, nothing is
# written to it and the VM stays up.
#
# Environment:
#   NIXLAB_DISK         target disk (default /dev/sda)
#   NIXLAB_SWAP_GB      swap LV size in GiB, 0 = no swap (default 0)
#   NIXLAB_SYSTEM       store path of the node's system.build.toplevel (required)
#   NIXLAB_STATUS_FILE  status file (default /run/nixlab-install/status)
#   NIXLAB_MOUNT        where the new root is mounted (default /mnt)
#   NIXLAB_DONE_LINGER  seconds to stay up after writing "done" (default 3600):
#                       the pipeline shuts the VM down once it has read "done"
#                       and never converts a VM that stopped without it, so a
#                       pipeline that was interrupted still finds the result
#
# Status file: ONE line "<state>: <message>", state running|done|failed,
# printable ASCII without '"' or '\', replaced atomically. Messages on stderr.
set -Eeuo pipefail

DISK="${NIXLAB_DISK:-/dev/sda}"
SWAP_GB="${NIXLAB_SWAP_GB:-0}"
SYSTEM="${NIXLAB_SYSTEM:-}"
STATUS_FILE="${NIXLAB_STATUS_FILE:-/run/nixlab-install/status}"
MOUNT="${NIXLAB_MOUNT:-/mnt}"
DONE_LINGER="${NIXLAB_DONE_LINGER:-3600}"
VG="nixos-vg"
ONE_MIB=1048576

STEP="starting"
LAST_ERROR=""
FINISHED=0 # 1 once a final status (done/failed) has been written
CMD_ERR=""

log() {
  printf 'nixlab-install: %s\n' "$*" >&2
}

# Printable ASCII only, no '"' or '\', bounded length.
sanitize() {
  local text
  text="$(printf '%s' "$1" | LC_ALL=C tr -c '[:print:]' ' ' | LC_ALL=C tr -d '\042\134')"
  printf '%s' "${text:0:400}"
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

fail() {
  local message="$1"
  log "FAILED: $message"
  write_status failed "$message"
  FINISHED=1
  exit 1
}

# Run a command; its stderr still reaches our stderr (journal/console) and its
# last non-empty line is kept for the status file when it fails.
run() {
  local rc=0
  : >"$CMD_ERR"
  { "$@" 2>&1 1>&3 3>&- | tee "$CMD_ERR" >&2; } 3>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    LAST_ERROR="$(grep -v '^[[:space:]]*$' "$CMD_ERR" | tail -n 1 || true)"
    [ -n "$LAST_ERROR" ] || LAST_ERROR="$1 exited with status $rc"
    fail "$STEP: $LAST_ERROR"
  fi
}

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$FINISHED" -eq 0 ]; then
    write_status failed "$STEP: ${LAST_ERROR:-unexpected error (exit status $rc)}" || true
    log "FAILED: $STEP (exit status $rc)"
  fi
  [ -z "$CMD_ERR" ] || rm -f "$CMD_ERR"
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
  if [ -z "$SYSTEM" ]; then
    fail "$STEP: NIXLAB_SYSTEM (the node system store path) is not set"
  fi
  if [ ! -e "$SYSTEM" ]; then
    fail "$STEP: node system $SYSTEM is missing from the live store"
  fi
}

partition_path() {
  # /dev/sda -> /dev/sda1, /dev/nvme0n1 -> /dev/nvme0n1p1
  case "$1" in
    *[0-9]) printf '%sp%s' "$1" "$2" ;;
    *) printf '%s%s' "$1" "$2" ;;
  esac
}

wait_for_disk() {
  progress "waiting for disk $DISK"
  local i
  for i in $(seq 1 60); do
    udevadm settle --timeout=10 >/dev/null 2>&1 || true
    if [ -e "$DISK" ]; then
      return 0
    fi
    log "disk $DISK not there yet ($i/60)"
    sleep 2
  done
  fail "$STEP: disk $DISK did not appear"
}

# Refuse anything that is not a blank disk. Writes nothing.
check_disk_empty() {
  progress "checking that $DISK is empty"
  local reasons=() out rc

  if ! out="$(wipefs --no-act --noheadings --output TYPE "$DISK" 2>"$CMD_ERR")"; then
    LAST_ERROR="$(tail -n 1 "$CMD_ERR")"
    fail "$STEP: wipefs: ${LAST_ERROR:-cannot read $DISK}"
  fi
  out="$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tr '\n' ' ' | sed 's/ *$//' || true)"
  if [ -n "$out" ]; then
    reasons+=("signatures: $out")
  fi

  if ! out="$(lsblk --noheadings --list --output TYPE "$DISK" 2>"$CMD_ERR")"; then
    LAST_ERROR="$(tail -n 1 "$CMD_ERR")"
    fail "$STEP: lsblk: ${LAST_ERROR:-cannot list $DISK}"
  fi
  local children
  children="$(printf '%s\n' "$out" | awk 'NR > 1 && NF { n++ } END { print n + 0 }')"
  if [ "$children" -gt 0 ]; then
    reasons+=("$children partitions or volumes")
  fi

  if vgs "$VG" >/dev/null 2>&1; then
    reasons+=("volume group $VG exists")
  fi

  rc=0
  cmp -s -n "$ONE_MIB" "$DISK" /dev/zero || rc=$?
  case "$rc" in
    0) ;;
    1) reasons+=("non-zero data in the first MiB") ;;
    *) fail "$STEP: cannot read the first MiB of $DISK" ;;
  esac

  if [ "${#reasons[@]}" -gt 0 ]; then
    local joined
    joined="$(printf '%s; ' "${reasons[@]}")"
    joined="${joined%; }"
    fail "disk $DISK is not empty ($joined) - refusing to install; attach an empty disk"
  fi
}

partition_disk() {
  progress "partitioning $DISK"
  run parted -s "$DISK" -- mklabel msdos mkpart primary 1MiB 100% set 1 lvm on
  run udevadm settle
}

create_volumes() {
  local part
  part="$(partition_path "$DISK" 1)"
  progress "creating LVM volume group $VG on $part"
  run pvcreate "$part"
  run vgcreate "$VG" "$part"
  if [ "$SWAP_GB" -gt 0 ]; then
    run lvcreate --yes -n swap -L "${SWAP_GB}G" "$VG"
  fi
  run lvcreate --yes -n root -l 100%FREE "$VG"
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
# first boot when the file is empty, sshd generates host keys when missing.
make_clone_safe() {
  progress "preparing the template (machine-id, SSH host keys)"
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
  trap on_exit EXIT
  trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

  progress "starting installation onto $DISK"
  check_inputs
  wait_for_disk
  check_disk_empty
  partition_disk
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
