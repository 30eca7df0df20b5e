#!/bin/bash
# diskvm boot "install": the installer on blank disks (with swap, without
# swap, above 2 TiB), each checked with the real tools. Later boots clone
# these disks.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
# shellcheck source=lib.sh
. /diskvm/lib.sh

# install_blank SCENARIO DISK SWAP_GB: a VM with only DISK attached.
install_blank() {
  local scenario="$1" dev
  dev="$(disk "$2")" || return 0
  lvm_only "$scenario" "$dev"
  run_install "$scenario" "$dev" NIXLAB_SWAP_GB="$3"
  layout_facts "$scenario" after "$dev"
  lvm_release "$scenario"
  result_line "$scenario" end ok
}

main() {
  install_blank inst-swap inst-swap 2
  install_blank inst-noswap inst-noswap 0
  install_blank inst-big inst-big 0
}

main "$@"
