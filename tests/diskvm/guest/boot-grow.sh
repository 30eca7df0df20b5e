#!/bin/bash
# diskvm boot "grow": grow-root on clones of the installed template: grown
# to 40 GiB (twice), not grown, grown with a second copy of the VG attached,
# grown past 2 TiB.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
# shellcheck source=lib.sh
. /diskvm/lib.sh

# grow SCENARIO DISK RUNS [DUPLICATE_DISK]: grow-root RUNS times on DISK (a
# clone of the template, its root LV active and mounted as on a booted
# node), each followed by the layout facts. DUPLICATE_DISK (a second copy
# of the same VG) is made visible to LVM only after the activation, like a
# disk attached to the running node: LVM refuses to activate a VG whose PVs
# appear twice, so a node never boots that way.
grow() {
  local scenario="$1" dev runs="$3" dup="" i
  dev="$(disk "$2")" || return 0
  if [ "$#" -ge 4 ]; then
    dup="$(disk "$4")" || return 0
  fi
  lvm_only "$scenario" "$dev"
  vgchange -ay "$VG" >&2 || result_line "$scenario" activate-failed "vgchange -ay $VG"
  layout_facts "$scenario" before "$dev"
  if [ -n "$dup" ]; then
    lvm_only "$scenario-attached" "$dev" "$dup"
    result_line "$scenario" attached "$dup"
  fi
  for i in $(seq 1 "$runs"); do
    run_grow "$scenario" "run$i" "$dev"
    layout_facts "$scenario" "run$i" "$dev"
  done
  lvm_release "$scenario"
  result_line "$scenario" end ok
}

main() {
  grow grow-40g clone-40g 2
  grow grow-unchanged clone-same 1
  grow grow-duplicate clone-dup 1 template-copy
  grow grow-big clone-big 1
}

main "$@"
