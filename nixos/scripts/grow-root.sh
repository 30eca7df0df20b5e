#!/usr/bin/env bash
# nixlab: grow the root filesystem to fill the disk, at every boot.
#
# A clone's disk may be bigger than the template's. Steps, each only when
# needed: grow partition NIXLAB_PART of NIXLAB_DISK (growpart; its exit 1 with
# NOCHANGE means it already fills the disk), pvresize, lvextend the root LV by
# all free extents, resize2fs. Idempotent and safe on every boot.
#
# Environment:
#   NIXLAB_DISK  disk (default /dev/sda)
#   NIXLAB_PART  partition number holding the LVM PV (default 1)
#   NIXLAB_VG    volume group (default nixos-vg)
#   NIXLAB_LV    logical volume with the ext4 root (default root)
set -euo pipefail

DISK="${NIXLAB_DISK:-/dev/sda}"
PART="${NIXLAB_PART:-1}"
VG="${NIXLAB_VG:-nixos-vg}"
LV="${NIXLAB_LV:-root}"

log() {
  printf 'nixlab-grow-root: %s\n' "$*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

partition_path() {
  # /dev/sda -> /dev/sda1, /dev/nvme0n1 -> /dev/nvme0n1p1
  case "$1" in
    *[0-9]) printf '%sp%s' "$1" "$2" ;;
    *) printf '%s%s' "$1" "$2" ;;
  esac
}

# Returns 0 when the partition grew, 1 when it already fills the disk.
grow_partition() {
  local out rc=0
  out="$(growpart "$DISK" "$PART" 2>&1)" || rc=$?
  if [ "$rc" -eq 0 ]; then
    log "grew partition $PART of $DISK: $(printf '%s' "$out" | tr '\n' ' ')"
    return 0
  fi
  if [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q 'NOCHANGE'; then
    log "partition $PART of $DISK already fills the disk"
    return 1
  fi
  die "growpart $DISK $PART failed (exit $rc): $(printf '%s' "$out" | tr '\n' ' ')"
}

resize_pv() {
  local pv
  pv="$(partition_path "$DISK" "$PART")"
  log "resizing LVM physical volume $pv"
  pvresize "$pv" || die "pvresize $pv failed"
}

free_extents() {
  local n
  n="$(vgs --noheadings -o vg_free_count "$VG")" || die "vgs $VG failed"
  n="$(printf '%s' "$n" | tr -d '[:space:]')"
  case "$n" in
    '' | *[!0-9]*) die "vgs $VG returned an unexpected free extent count: '$n'" ;;
  esac
  printf '%s' "$n"
}

extend_root() {
  local free
  free="$(free_extents)"
  if [ "$free" -eq 0 ]; then
    log "volume group $VG has no free extents; $VG/$LV unchanged"
    return 0
  fi
  log "extending $VG/$LV by $free free extents"
  lvextend -l +100%FREE "$VG/$LV" || die "lvextend $VG/$LV failed"
  log "resizing ext4 on /dev/$VG/$LV"
  resize2fs "/dev/$VG/$LV" || die "resize2fs /dev/$VG/$LV failed"
}

main() {
  if grow_partition; then
    resize_pv
    extend_root
  else
    # Nothing new on the disk. Still pick up extents a previous, interrupted
    # run may have left free in the VG.
    local free
    free="$(free_extents)"
    if [ "$free" -gt 0 ]; then
      extend_root
    fi
  fi
  log "done"
}

main "$@"
