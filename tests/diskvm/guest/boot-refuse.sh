#!/bin/bash
# diskvm boot "refuse": the refusal matrix on the fixtures (the host checks
# every image stayed byte-identical), and a blank disk next to disks that
# hold a VG named nixos-vg.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
# shellcheck source=lib.sh
. /diskvm/lib.sh

# install_beside SCENARIO OTHERS_STATE DISK [OTHER_DISK...]: install onto
# DISK in a VM that has DISK and OTHER_DISK... attached. OTHERS_STATE
# "active" activates the other disk's nixos-vg first, as the ISO's udev
# would (lvm2's 69-lvm.rules event autoactivation); "inactive" leaves it.
install_beside() {
  local scenario="$1" state="$2" dev name devs=()
  dev="$(disk "$3")" || return 0
  shift 3
  devs=("$dev")
  for name in "$@"; do
    devs+=("$(disk "$name")") || return 0
  done
  lvm_only "$scenario" "${devs[@]}"
  if [ "$state" = active ]; then
    vgchange -ay "$VG" >&2 || result_line "$scenario" other-activate-failed "vgchange -ay $VG"
    result_line "$scenario" other-active "$(dmsetup ls | tr '\n' ' ')"
  fi
  run_install "$scenario" "$dev"
  result_line "$scenario" vgs-after "$(pvs --noheadings -o pv_name,vg_name,vg_uuid 2>&1 | tr -s ' ' | tr '\n' ';')"
  lvm_release "$scenario"
  result_line "$scenario" end ok
}

main() {
  install_beside refuse-ext4 - fix-ext4
  install_beside refuse-old-nixlab - fix-lvm
  install_beside refuse-msdos - fix-msdos
  install_beside refuse-gpt - fix-gpt
  install_beside refuse-data - fix-data
  install_beside refuse-data-tail - fix-data-tail
  install_beside blank-beside-two-vgs inactive blank-2 other-vg-2 other-vg-3
  install_beside blank-beside-vg inactive blank-1 other-vg-1
  install_beside blank-beside-active-vg active blank-3 other-vg-4
}

main "$@"
