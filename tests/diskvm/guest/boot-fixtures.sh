#!/bin/bash
# diskvm boot "fixtures": the disks the installer must refuse, made with the
# real tools (the host checksums them before boot "refuse").
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
# shellcheck source=lib.sh
. /diskvm/lib.sh

# Zeroes the first MiB (what `wipefs` or a careless `dd` leaves: no
# partition table, no signature at offset 0) and makes the kernel forget
# the partitions.
wipe_first_mib() {
  dd if=/dev/zero of="$1" bs=1M count=1 conv=fsync status=none
  blockdev --rereadpt "$1" || true
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
}

# What remains visible on a fixture: the whole-disk probe (empty for the
# wiped ones), and the signature at 1 MiB.
fixture_facts() {
  local scenario="$1" dev="$2"
  result_line "$scenario" wipefs "$(wipefs --no-act --noheadings --output TYPE,OFFSET "$dev" | tr '\n' ' ')"
  result_line "$scenario" pttype "$(blkid -p -o value -s PTTYPE "$dev" || true)"
  result_line "$scenario" at-1mib "$(blkid -p -O 1048576 -o value -s TYPE "$dev" || true)"
  result_line "$scenario" parts "$(lsblk -n -r -o TYPE "$dev" | grep -c part || true)"
  result_line "$scenario" end ok
}

# An old data disk: ext4 in a partition at 1 MiB, then the first MiB wiped.
fixture_ext4() {
  local dev
  dev="$(disk fix-ext4)" || return 0
  parted -s "$dev" -- mklabel msdos mkpart primary ext4 1MiB 1GiB
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  mkfs.ext4 -q -F -L olddata "${dev}1"
  wipe_first_mib "$dev"
  fixture_facts fix-ext4 "$dev"
}

# A disk an earlier nixlab installed (msdos label, PV on partition 1 at
# 1 MiB, VG nixos-vg with swap and root), then the first MiB wiped.
fixture_old_nixlab() {
  local dev
  dev="$(disk fix-lvm)" || return 0
  lvm_only fix-lvm "$dev"
  parted -s "$dev" -- mklabel msdos mkpart primary 1MiB 100% set 1 lvm on
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  pvcreate -q "${dev}1" >&2
  vgcreate -q "$VG" "${dev}1" >&2
  lvcreate -q --yes -n swap -L 1G "$VG" >&2
  lvcreate -q --yes -n root -l 100%FREE "$VG" >&2
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  mkfs.ext4 -q -F -L nixos "/dev/$VG/root"
  lvm_release fix-lvm
  wipe_first_mib "$dev"
  fixture_facts fix-lvm "$dev"
}

# fixture_table NAME LABEL [PARTED ARGS...]: a partition table of LABEL type.
fixture_table() {
  local name="$1" label="$2" dev
  shift 2
  dev="$(disk "$name")" || return 0
  parted -s "$dev" -- mklabel "$label" "$@"
  udevadm settle --timeout=30 >/dev/null 2>&1 || true
  fixture_facts "$name" "$dev"
}

main() {
  fixture_ext4
  fixture_old_nixlab
  fixture_table fix-msdos msdos mkpart primary 1MiB 100MiB
  fixture_table fix-gpt gpt
}

main "$@"
