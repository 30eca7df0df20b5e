#!/usr/bin/env bash
# build-iso.sh — build the nixlab installer ISO with nix (or adopt a prebuilt
# one), or the node system it installs, and keep a GC root to the result.
# Run by a Pulumi command:local:Command whose working directory is the Pulumi
# project directory. Both builds share the flake handling below (staging,
# flake.lock copy, GC root); the ISO carries the node system, so building
# the system first lets the ISO build reuse it from the store.
#
# Usage: build-iso.sh create|delete
#
# Environment:
#   NIXLAB_BUILD_KIND    optional: "iso" (default) builds the installer ISO,
#                        "system" the node system (nixosConfigurations.node's
#                        toplevel, what a roll copies to running nodes)
#   NIXLAB_OUT_LINK      path of the GC-root link to create/remove (create, delete);
#                        parent directories are created as needed
#   NIXLAB_FLAKE_DIR     directory holding the rendered flake (create, unless prebuilt)
#   NIXLAB_PREBUILT_ISO  optional: use this ISO file instead of building with nix
#                        (iso only; a prebuilt ISO has no node system to build)
#   NIXLAB_LOCK_COPY     optional: where to copy flake.lock after a nix build
#   NIX_STORE_DIR        optional: the Nix store directory, as nix itself reads it
#                        (default /nix/store); a system path must lie in it
#
# stdout (create): exactly one line, the ISO path, or for "system" the node
# system's store path (/nix/store/<hash>-nixos-system-<name>-<version>).
# Everything else goes to stderr.
set -euo pipefail

readonly SCRIPT_NAME="build-iso.sh"
readonly ISO_ATTR="nixosConfigurations.installer.config.system.build.isoImage"
readonly SYSTEM_ATTR="nixosConfigurations.node.config.system.build.toplevel"

log() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

usage() {
  printf 'usage: %s create|delete\n' "$SCRIPT_NAME" >&2
  exit 2
}

# out_link prints NIXLAB_OUT_LINK (required) without trailing slashes.
out_link() {
  local link="${NIXLAB_OUT_LINK:-}"
  [[ -n "$link" ]] || die "NIXLAB_OUT_LINK is not set"
  while [[ "$link" == */ && "$link" != / ]]; do
    link="${link%/}"
  done
  [[ "$link" != / ]] || die "NIXLAB_OUT_LINK must not be /"
  printf '%s\n' "$link"
}

# prepare_link_parent makes sure a symlink can be (re)created at $1.
prepare_link_parent() {
  local link="$1"
  if [[ -e "$link" && ! -L "$link" ]]; then
    die "$link exists and is not a symlink; refusing to replace it (move it away and retry)"
  fi
  if [[ "$link" == */* ]]; then
    mkdir -p -- "${link%/*}" || die "cannot create the directory ${link%/*}"
  fi
}

# absolute_path prints $1 made absolute against the working directory
# (without resolving symlinks).
absolute_path() {
  local path="$1"
  if [[ "$path" == /* ]]; then
    printf '%s\n' "$path"
  else
    printf '%s/%s\n' "$PWD" "${path#./}"
  fi
}

use_prebuilt() {
  local iso="$1" link="$2" target
  if [[ ! -e "$iso" ]]; then
    die "prebuilt ISO $iso (nixlab:template.isoPath) does not exist"
  fi
  if [[ ! -f "$iso" ]]; then
    die "prebuilt ISO $iso (nixlab:template.isoPath) is not a regular file"
  fi
  if [[ ! -r "$iso" ]]; then
    die "prebuilt ISO $iso (nixlab:template.isoPath) is not readable"
  fi
  if [[ ! -s "$iso" ]]; then
    die "prebuilt ISO $iso (nixlab:template.isoPath) is empty"
  fi
  target="$(absolute_path "$iso")"
  prepare_link_parent "$link"
  ln -sfn -- "$target" "$link" || die "cannot create the link $link -> $target"
  log "using prebuilt ISO $target (nixlab:template.isoPath); nix is not needed"
  printf '%s\n' "$target"
}

# build_kind prints NIXLAB_BUILD_KIND: iso (the default) or system.
build_kind() {
  local kind="${NIXLAB_BUILD_KIND:-iso}"
  case "$kind" in
    iso | system) printf '%s\n' "$kind" ;;
    *) die "invalid NIXLAB_BUILD_KIND '$kind': use iso or system" ;;
  esac
}

# require_nix fails with the fix when nix is missing; $1 names what cannot
# be built without it.
require_nix() {
  local what="$1"
  if ! command -v nix >/dev/null 2>&1; then
    log "error: nix is not on PATH, so $what cannot be built."
    log "  Either install Nix with flakes enabled: see https://nixos.org/download and put"
    log "  'experimental-features = nix-command flakes' into ~/.config/nix/nix.conf (or /etc/nix/nix.conf),"
    log "  or set nixlab:template.isoPath to a prebuilt installer ISO:"
    log "  pulumi config set nixlab:template.isoPath /path/to/nixlab-installer.iso --path"
    exit 1
  fi
}

# flake_dir prints NIXLAB_FLAKE_DIR as an absolute, symlink-free path.
flake_dir() {
  local dir="${NIXLAB_FLAKE_DIR:-}"
  [[ -n "$dir" ]] || die "NIXLAB_FLAKE_DIR is not set"
  [[ -d "$dir" ]] || die "flake directory $dir (NIXLAB_FLAKE_DIR) does not exist"
  [[ -f "$dir/flake.nix" ]] || die "flake directory $dir (NIXLAB_FLAKE_DIR) holds no flake.nix"
  (cd -- "$dir" && pwd -P) || die "cannot resolve the flake directory $dir"
}

# find_iso prints the single *.iso in directory $1 or fails naming what it found.
find_iso() {
  local dir="$1" found=() entries=()
  if [[ ! -d "$dir" ]]; then
    die "nix build finished but $dir does not exist (the build result is not an ISO image)"
  fi
  shopt -s nullglob dotglob
  found=("$dir"/*.iso)
  entries=("$dir"/*)
  shopt -u nullglob dotglob
  case "${#found[@]}" in
    1)
      printf '%s\n' "${found[0]}"
      ;;
    0)
      if (( ${#entries[@]} == 0 )); then
        die "expected exactly one .iso file under $dir, found an empty directory"
      fi
      die "expected exactly one .iso file under $dir, found none; it holds: ${entries[*]}"
      ;;
    *)
      die "expected exactly one .iso file under $dir, found ${#found[@]}: ${found[*]}"
      ;;
  esac
}

copy_lock() {
  local dir="$1" dest="${NIXLAB_LOCK_COPY:-}"
  [[ -n "$dest" && -f "$dir/flake.lock" ]] || return 0
  if [[ "$dest" == */* ]]; then
    mkdir -p -- "${dest%/*}" || { log "warning: cannot create the directory for $dest; flake.lock not copied"; return 0; }
  fi
  if cp -- "$dir/flake.lock" "$dest"; then
    log "copied the flake.lock of this build to $dest; committing it as nixos/flake.lock pins nixpkgs exactly"
  else
    log "warning: cannot copy $dir/flake.lock to $dest"
  fi
}

# stage_flake sets REF_DIR to a directory usable in a path: flake reference
# for the flake in $1. Flake references are URLs: a path with characters
# outside the URL path set (a space, say) cannot be written as one, so such a
# flake is staged in a temporary directory (STAGING_DIR) first; a path: flake
# is copied into the store as it is anyway.
REF_DIR=""
STAGING_DIR=""

stage_flake() {
  local dir="$1" tmp_root="${TMPDIR:-/tmp}"
  # Never copy anything but a flake directory (an empty or relative path
  # here would be a bug, and "/." a copy of the whole file system).
  [[ "$dir" == /?* && -f "$dir/flake.nix" ]] || die "internal error: '$dir' is not an absolute flake directory"
  if [[ "$dir" =~ ^[A-Za-z0-9._/~+-]+$ ]]; then
    REF_DIR="$dir"
    return 0
  fi
  [[ "$tmp_root" =~ ^[A-Za-z0-9._/~+-]+$ ]] || tmp_root=/tmp
  STAGING_DIR="$(mktemp -d "$tmp_root/nixlab-flake.XXXXXXXX")" || die "cannot create a staging directory under $tmp_root"
  cp -R -- "$dir/." "$STAGING_DIR/" || die "cannot copy the flake $dir to $STAGING_DIR"
  log "the flake directory $dir cannot be written as a flake reference; building a copy in $STAGING_DIR"
  REF_DIR="$STAGING_DIR"
}

cleanup() {
  if [[ -n "$STAGING_DIR" && -d "$STAGING_DIR" ]]; then
    rm -rf -- "$STAGING_DIR"
  fi
}

# system_path prints the node system the GC root $1 points at, after
# checking that it is one: a store path named <hash>-nixos-system-<rest>
# (nixpkgs nixos/modules/system/activation/top-level.nix names the toplevel
# "nixos-system-${config.system.name}-${config.system.nixos.label}").
system_path() {
  local link="$1" store="${NIX_STORE_DIR:-/nix/store}" target
  store="${store%/}"
  target="$(readlink -- "$link")" || die "nix build finished but $link is not a link to the build result"
  if [[ "$target" != "$store/"* ]]; then
    die "nix build produced $target, which is not in the Nix store $store"
  fi
  if [[ ! "${target#"$store/"}" =~ ^[0-9a-z]{32}-nixos-system-[^/]+$ ]]; then
    die "nix build produced $target, which is not a NixOS system (<store>/<hash>-nixos-system-<name>)"
  fi
  printf '%s\n' "$target"
}

# nix_build builds attribute $2 of the flake in directory $1 with a GC root
# at $3 (nix prints its logs on stderr; nothing reaches stdout).
nix_build() {
  local dir="$1" attr="$2" link="$3" rc=0
  trap cleanup EXIT
  stage_flake "$dir"
  nix --extra-experimental-features 'nix-command flakes' build --print-build-logs \
    --out-link "$link" "path:$REF_DIR#$attr" >&2 || rc=$?
  if (( rc != 0 )); then
    log "error: nix build failed (exit $rc); see the nix output above"
    exit "$rc"
  fi
  if [[ -n "$STAGING_DIR" && -f "$STAGING_DIR/flake.lock" ]]; then
    cp -- "$STAGING_DIR/flake.lock" "$dir/flake.lock" || log "warning: cannot copy flake.lock back to $dir"
  fi
}

# same_system PATH fails when this run rebuilt the node system of unchanged
# sources (an update: another checkout or machine, another state directory)
# and got another store path than the earlier build, which the running
# nodes run: nixpkgs moved, because no flake.lock pins it. The roll steps
# only roll on a new node-system hash, so accepting the new path would put
# new nodes on another system than the running ones. On an update
# pulumi-command passes the earlier stdout as PULUMI_COMMAND_STDOUT
# (provider/pkg/provider/local/commandOutputs.go, run, v1.2.1); a create has
# none.
same_system() {
  local before="${PULUMI_COMMAND_STDOUT:-}"
  before="${before%%$'\n'*}"
  [[ -n "$before" && "$before" != "$1" ]] || return 0
  die "the node system built now, $1, differs from the one built before from the same sources, $before, which the running nodes run: nixpkgs moved because no flake.lock pins it. Copy the flake.lock of the earlier build (NIXLAB_LOCK_COPY, e.g. .nixlab/flake.lock of the checkout that built it) to nixos/flake.lock and commit it, then run up again (a committed lock is part of the node-system hash: the nodes roll to exactly that system)"
}

create() {
  local link dir kind result
  link="$(out_link)"
  kind="$(build_kind)"
  if [[ -n "${NIXLAB_PREBUILT_ISO:-}" ]]; then
    if [[ "$kind" == system ]]; then
      die "a prebuilt ISO (nixlab:template.isoPath) carries no node system to build; nodes of a prebuilt ISO cannot be rolled"
    fi
    use_prebuilt "$NIXLAB_PREBUILT_ISO" "$link"
    return 0
  fi
  if [[ "$kind" == system ]]; then
    require_nix "the node system"
  else
    require_nix "the installer ISO"
  fi
  dir="$(flake_dir)"
  prepare_link_parent "$link"
  if [[ "$kind" == system ]]; then
    log "building the node system from path:$dir (this can take a while)"
    nix_build "$dir" "$SYSTEM_ATTR" "$link"
    result="$(system_path "$link")"
    same_system "$result"
  else
    log "building the installer ISO from path:$dir (this can take a while)"
    nix_build "$dir" "$ISO_ATTR" "$link"
    result="$(find_iso "$link/iso")"
  fi
  copy_lock "$dir"
  log "built $result (GC root: $link)"
  printf '%s\n' "$result"
}

delete() {
  local link
  link="$(out_link)"
  if [[ -L "$link" ]]; then
    rm -f -- "$link" || die "cannot remove the GC root $link"
    log "removed the GC root $link"
  elif [[ -e "$link" ]]; then
    log "warning: $link is not a symlink; leaving it alone"
  else
    log "GC root $link is already gone"
  fi
}

main() {
  (( $# == 1 )) || usage
  case "$1" in
    create) create ;;
    delete) delete ;;
    *) usage ;;
  esac
}

main "$@"
