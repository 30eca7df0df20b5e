#!/usr/bin/env bash
# nixlab: grow the root filesystem to fill the node's disk, at every boot
# (nixlab-grow-root.service). A clone's disk may be bigger than the
# template's.
#
# Everything is tied to the node's OWN disk, found from the root LV through
# the kernel, never by deriving names (by-id paths, NVMe and sdX alike):
#   lsblk --inverse /dev/$NIXLAB_VG/$NIXLAB_LV  ->  the LV's device-mapper
#   device, the one partition under it (the PV) and that partition's disk;
#   the partition number is the kernel's (sysfs <part>/partition).
# Steps:
#   0. refuse (unit fails, nothing resized) when LVM sees a second copy of
#      this node's PV or another VG of the same name: a node disk attached to
#      another VM for rescue, or any clone, shares the PV/VG/LV UUIDs, and
#      LVM may then act on the other disk;
#   1. growpart <disk> <n> (exit 1 with NOCHANGE: already as big as it gets);
#   2. pvresize --devices <part> <part>, on every boot (idempotent; picks up a
#      partition grown by an interrupted boot); "0 physical volume(s)
#      resized" or any duplicate warning is an error;
#   3. when the VG then has free extents: lvextend them onto the root LV,
#      allocating on <part> only (also --devices <part>);
#   4. resize2fs the LV's device-mapper device (the mounted root), every boot;
#   5. verify, or fail the unit: the partition ends within 2 MiB of the end
#      of the disk (GPT's backup header; growpart skips growth under 1 MiB),
#      the PV covers the partition to less than one extent, the VG has no
#      free extent, and ext4 covers the LV to less than one block group
#      (resize2fs drops a too-small last group).
# Any failure is an "ERROR:" line on stderr and exit status 1.
#
# Environment:
#   NIXLAB_VG     volume group of the root LV (default nixos-vg)
#   NIXLAB_LV     logical volume with the ext4 root (default root)
#   NIXLAB_SYSFS  sysfs mount point (default /sys)
set -euo pipefail

VG="${NIXLAB_VG:-nixos-vg}"
LV="${NIXLAB_LV:-root}"
SYSFS="${NIXLAB_SYSFS:-/sys}"

readonly MIB=1048576
readonly PART_SLACK=$((2 * MIB))

LVDEV=""   # the root LV's device-mapper device (/dev/dm-0 or /dev/mapper/...)
PART=""    # the PV partition (/dev/sda2)
DISK=""    # its disk (/dev/sda)
PARTNUM="" # the partition's number on DISK
ERRF=""    # stderr of the last query

log() {
  printf 'nixlab-grow-root: %s\n' "$*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

oneline() {
  printf '%s' "$1" | sed -e 's/^[[:space:]]*//' | grep -v '^$' | tr '\n' ' ' | sed 's/ *$//'
}

# Whole, non-negative number or die.
number() {
  local what="$1" value
  value="$(printf '%s' "$2" | tr -d '[:space:]')"
  case "$value" in
    '' | *[!0-9]*) die "$what: expected a number, got '$2'" ;;
  esac
  printf '%s' "$value"
}

locate() {
  local lv="/dev/$VG/$LV" out name type parts=() disks=()
  out="$(lsblk --inverse --noheadings --raw --paths --output NAME,TYPE "$lv" 2>"$ERRF")" ||
    die "lsblk --inverse $lv failed: $(oneline "$(cat "$ERRF")")"
  while read -r name type; do
    [ -n "$name" ] || continue
    case "$type" in
      lvm) [ -n "$LVDEV" ] || LVDEV="$name" ;;
      part) parts+=("$name") ;;
      disk | loop) disks+=("$name") ;;
    esac
  done <<<"$out"
  [ -n "$LVDEV" ] || die "$lv is not an active LVM volume (lsblk: $(oneline "$out"))"
  if [ "${#parts[@]}" -ne 1 ] || [ "${#disks[@]}" -ne 1 ]; then
    die "$lv must sit on exactly one partition of one disk; the kernel lists partitions [${parts[*]}] on disks [${disks[*]}]"
  fi
  PART="${parts[0]}"
  DISK="${disks[0]}"
  PARTNUM="$(cat "$SYSFS/class/block/${PART##*/}/partition" 2>/dev/null || true)"
  case "$PARTNUM" in
    '' | *[!0-9]*) die "cannot read the partition number of $PART from $SYSFS/class/block/${PART##*/}/partition" ;;
  esac
  log "root $VG/$LV ($LVDEV) is on $PART, partition $PARTNUM of $DISK"
}

# lvm2 warnings that mean a second copy of a PV or VG is visible, as lvm2
# 2.03.16 prints them with a copied PV ("WARNING: Not using device /dev/X
# for PV <uuid>.", "WARNING: PV <uuid> prefers device ...") and with two VGs
# of one name ("WARNING: VG name <vg> is used by VGs <uuid> and <uuid>.",
# "Multiple VGs found with the same name: skipping <vg>").
duplicate_lines() {
  grep -E 'Not using device|prefers device|[Dd]uplicate|is used by VGs|Multiple VGs found with the same name' <<<"$1" || true
}

# Step 0: LVM must see this PV once, and VG only on it.
check_no_duplicates() {
  local out rc=0 dups pvs_of_vg
  out="$(pvs --noheadings --options pv_name,vg_name 2>"$ERRF")" || rc=$?
  dups="$(duplicate_lines "$(cat "$ERRF")")"
  if [ -n "$dups" ]; then
    die "LVM sees a second copy of this node's volume group $VG (a disk cloned from this node, or another disk with a VG named $VG, is attached): $(oneline "$dups") -- detach it; nothing was resized"
  fi
  [ "$rc" -eq 0 ] || die "pvs failed (exit $rc): $(oneline "$(cat "$ERRF")")"
  pvs_of_vg="$(awk -v vg="$VG" '$2 == vg { print $1 }' <<<"$out" | sort -u | tr '\n' ' ' | sed 's/ *$//')"
  if [ "$pvs_of_vg" != "$PART" ]; then
    die "volume group $VG must have exactly one PV, $PART; LVM lists [${pvs_of_vg}] -- nothing was resized"
  fi
}

# Step 1. Returns 0 when the partition grew, 1 when it already fills the disk.
grow_partition() {
  local out rc=0
  out="$(growpart "$DISK" "$PARTNUM" 2>&1)" || rc=$?
  if [ "$rc" -eq 0 ]; then
    log "grew partition $PARTNUM of $DISK: $(oneline "$out")"
    return 0
  fi
  if [ "$rc" -eq 1 ]; then
    case "$out" in
      *NOCHANGE*)
        log "partition $PARTNUM of $DISK already fills the disk"
        return 1
        ;;
    esac
  fi
  die "growpart $DISK $PARTNUM failed (exit $rc): $(oneline "$out")"
}

# Step 2. pvresize (lvm2 tools/pvresize.c) counts a PV it processed as
# "resized or updated" even when its size did not change, and exits 0 with
# "0 physical volume(s) resized or updated" when it processed none (lvm2
# 2.03.16, run on an unused duplicate PV).
resize_pv() {
  local out rc=0 dups
  log "resizing LVM physical volume $PART"
  out="$(pvresize --devices "$PART" "$PART" 2>&1)" || rc=$?
  printf '%s\n' "$out" >&2
  dups="$(duplicate_lines "$out")"
  [ -z "$dups" ] || die "pvresize $PART: LVM sees a second copy of the PV: $(oneline "$dups")"
  [ "$rc" -eq 0 ] || die "pvresize $PART failed (exit $rc): $(oneline "$out")"
  case "$out" in
    *"1 physical volume(s) resized or updated"*) ;;
    *) die "pvresize $PART resized nothing: $(oneline "$out")" ;;
  esac
}

free_extents() {
  local out
  out="$(vgs --devices "$PART" --noheadings --options vg_free_count "$VG" 2>"$ERRF")" ||
    die "vgs $VG failed: $(oneline "$(cat "$ERRF")")"
  case "$(printf '%s' "$out" | tr -d '[:space:]')" in
    '' | *[!0-9]*) die "vgs $VG returned an unexpected free extent count: '$(oneline "$out")'" ;;
  esac
  printf '%s' "$out" | tr -d '[:space:]'
}

# Step 3: every free extent of the VG onto the LV, allocated on PART.
extend_root() {
  local free out
  free="$(free_extents)"
  if [ "$free" -eq 0 ]; then
    log "volume group $VG has no free extents; $VG/$LV unchanged"
    return 0
  fi
  log "extending $VG/$LV by $free free extents on $PART"
  out="$(lvextend --devices "$PART" -l +100%FREE "$VG/$LV" "$PART" 2>&1)" ||
    die "lvextend $VG/$LV failed: $(oneline "$out")"
  printf '%s\n' "$out" >&2
}

# Step 4: ext4 to the LV's size (a no-op when it already fits).
resize_fs() {
  local out
  log "fitting ext4 on $LVDEV to its volume"
  out="$(resize2fs "$LVDEV" 2>&1)" || die "resize2fs $LVDEV failed: $(oneline "$out")"
  printf '%s\n' "$out" >&2
}

bytes_of() {
  local out
  out="$(lsblk --nodeps --noheadings --raw --bytes --output "$2" "$1" 2>"$ERRF")" ||
    die "lsblk $1 failed: $(oneline "$(cat "$ERRF")")"
  printf '%s' "$out"
}

# Step 5.
verify() {
  local disk_size part_out start part_size gap out dev_size pe_start pv_size extent free
  disk_size="$(number "size of $DISK" "$(bytes_of "$DISK" SIZE)")"
  part_out="$(bytes_of "$PART" START,SIZE)"
  start="$(number "start of $PART" "${part_out%% *}")"
  part_size="$(number "size of $PART" "${part_out##* }")"
  # lsblk START is in 512-byte sectors (sysfs <part>/start).
  gap=$((disk_size - start * 512 - part_size))
  if [ "$gap" -ge "$PART_SLACK" ]; then
    die "partition $PARTNUM of $DISK ends $gap bytes before the end of the disk ($disk_size bytes)"
  fi

  out="$(pvs --devices "$PART" --noheadings --units b --nosuffix --options dev_size,pe_start,pv_size,vg_extent_size "$PART" 2>"$ERRF")" ||
    die "pvs $PART failed: $(oneline "$(cat "$ERRF")")"
  read -r dev_size pe_start pv_size extent _ <<<"$out" || true
  dev_size="$(number "pvs dev_size" "$dev_size")"
  pe_start="$(number "pvs pe_start" "$pe_start")"
  pv_size="$(number "pvs pv_size" "$pv_size")"
  extent="$(number "pvs vg_extent_size" "$extent")"
  gap=$((dev_size - pe_start - pv_size))
  if [ "$gap" -ge "$extent" ]; then
    die "PV $PART ($pv_size bytes) does not fill its partition ($dev_size bytes, data from $pe_start): $gap bytes unused"
  fi

  free="$(free_extents)"
  if [ "$free" -ne 0 ]; then
    die "volume group $VG still has $free free extents: $VG/$LV does not fill the PV"
  fi

  local lv_size blocks block_size per_group
  lv_size="$(number "size of $LVDEV" "$(bytes_of "$LVDEV" SIZE)")"
  out="$(dumpe2fs -h "$LVDEV" 2>/dev/null)" || die "dumpe2fs -h $LVDEV failed"
  blocks="$(number "ext4 block count" "$(sed -n 's/^Block count:[[:space:]]*//p' <<<"$out")")"
  block_size="$(number "ext4 block size" "$(sed -n 's/^Block size:[[:space:]]*//p' <<<"$out")")"
  per_group="$(number "ext4 blocks per group" "$(sed -n 's/^Blocks per group:[[:space:]]*//p' <<<"$out")")"
  gap=$((lv_size - blocks * block_size))
  if [ "$gap" -ge $((per_group * block_size)) ]; then
    die "ext4 on $LVDEV ($((blocks * block_size)) bytes) does not fill its volume ($lv_size bytes)"
  fi
  log "done: partition $PARTNUM of $DISK, PV $PART, $VG/$LV and its ext4 ($((blocks * block_size)) bytes) fill the disk ($disk_size bytes)"
}

main() {
  ERRF="$(mktemp)"
  trap 'rm -f "$ERRF"' EXIT
  locate
  check_no_duplicates
  grow_partition || true # 0: grew, 1: NOCHANGE; errors exit in grow_partition
  resize_pv              # always: picks up a partition grown by an interrupted boot
  extend_root
  resize_fs
  verify
}

main "$@"
