#!/usr/bin/env bash
# nixlab: grow the root filesystem to fill the disk, at every boot.
#
# A clone's disk may be bigger than the template's. Steps:
#   1. growpart partition NIXLAB_PART of NIXLAB_DISK (its exit 1 with NOCHANGE
#      means the partition already fills the disk);
#   2. pvresize the PV on that partition - on EVERY boot, also after NOCHANGE:
#      it is idempotent, and a boot interrupted between growpart and pvresize
#      leaves a grown partition with a PV that does not know it yet;
#   3. only if the VG then has free extents: lvextend the root LV by all of
#      them;
#   4. resize2fs the ext4 on the LV - also on EVERY boot: growing a mounted
#      ext4 to the size it already has is a no-op, and a boot interrupted
#      between lvextend and resize2fs leaves an LV bigger than its filesystem.
# Any failing step is reported and the unit fails.
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
  if [ "$rc" -eq 1 ]; then
    case "$out" in
      *NOCHANGE*)
        log "partition $PART of $DISK already fills the disk"
        return 1
        ;;
    esac
  fi
  die "growpart $DISK $PART failed (exit $rc): $(printf '%s' "$out" | tr '\n' ' ')"
}

resize_pv() {
  local pv
  pv="$(partition_path "$DISK" "$PART")"
  log "resizing LVM physical volume $pv (a no-op when it already fills the partition)"
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

# Extends the LV by every free extent of the VG; does nothing when the VG
# has none.
extend_root() {
  local free
  free="$(free_extents)"
  if [ "$free" -eq 0 ]; then
    log "volume group $VG has no free extents; $VG/$LV unchanged"
    return 0
  fi
  log "extending $VG/$LV by $free free extents"
  lvextend -l +100%FREE "$VG/$LV" || die "lvextend $VG/$LV failed"
}

# Grows the ext4 on the LV to the LV's size (a no-op when it already fits).
resize_fs() {
  log "fitting ext4 on /dev/$VG/$LV to its volume"
  resize2fs "/dev/$VG/$LV" || die "resize2fs /dev/$VG/$LV failed"
}

main() {
  grow_partition || true # 0: grew, 1: NOCHANGE; errors exit in grow_partition
  # Always: picks up a partition grown by an earlier, interrupted boot.
  resize_pv
  extend_root
  resize_fs
  log "done"
}

main "$@"
