#!/usr/bin/env bash
# upload-iso.sh — stream the installer ISO to the Proxmox host's ISO storage
# over the ssh CLI (no temporary copy on the client), verify it by SHA-256,
# or remove it again. Run by a Pulumi command:local:Command.
#
# Usage: upload-iso.sh create|delete
#
# Environment:
#   NIXLAB_ISO_PATH         local ISO file (create only)
#   NIXLAB_SSH_HOST         Proxmox host
#   NIXLAB_SSH_USER         ssh user (default root)
#   NIXLAB_SSH_PORT         ssh port (default 22)
#   NIXLAB_SSH_KEY_FILE     optional private key file (-i, IdentitiesOnly=yes,
#                           IdentityAgent=none: no ssh-agent involved);
#                           otherwise the ssh agent / default keys are used (also
#                           when a delete runs where the file no longer exists)
#   NIXLAB_SSH_HOST_KEY     optional host public key ("ssh-ed25519 AAAA..."): ssh
#                           checks it strictly against a temporary known_hosts
#                           (nixlab always sets it: the configured or recorded
#                           key); without it StrictHostKeyChecking=accept-new
#   NIXLAB_STORAGE          Proxmox storage that holds ISO images, e.g. local
#   NIXLAB_ISO_FILE_NAME    file name on the storage, e.g. nixlab-0123456789abcdef.iso
#
# stdout (create): exactly one line, the volume ID <storage>:iso/<file>.
# Everything else goes to stderr.
set -euo pipefail

readonly SCRIPT_NAME="upload-iso.sh"

SSH_OPTS=()
SSH_TARGET=""
KNOWN_HOSTS=""
STORAGE=""
FILE_NAME=""
VOLUME_ID=""

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

# quote_cmd prints its arguments as one shell-quoted command string for the
# remote shell.
quote_cmd() {
  local out="" arg
  for arg in "$@"; do
    out+="$(printf '%q' "$arg") "
  done
  printf '%s\n' "${out% }"
}

validate() {
  STORAGE="${NIXLAB_STORAGE:-}"
  FILE_NAME="${NIXLAB_ISO_FILE_NAME:-}"
  local host="${NIXLAB_SSH_HOST:-}" user="${NIXLAB_SSH_USER:-root}" port="${NIXLAB_SSH_PORT:-22}"
  local action="$1"
  local key="${NIXLAB_SSH_KEY_FILE:-}" host_key="${NIXLAB_SSH_HOST_KEY:-}"

  [[ "$STORAGE" =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "invalid storage name '$STORAGE' (NIXLAB_STORAGE): use letters, digits, '.', '_' and '-'"
  [[ "$FILE_NAME" =~ ^[A-Za-z0-9._-]+\.iso$ && "$FILE_NAME" != .* ]] ||
    die "invalid ISO file name '$FILE_NAME' (NIXLAB_ISO_FILE_NAME): use letters, digits, '.', '_' and '-', ending in .iso"
  [[ -n "$host" ]] || die "NIXLAB_SSH_HOST is not set"
  [[ "$host" =~ ^[A-Za-z0-9._:%-]+$ && "$host" != -* ]] ||
    die "invalid ssh host '$host' (NIXLAB_SSH_HOST)"
  [[ "$user" =~ ^[A-Za-z0-9._-]+$ && "$user" != -* ]] ||
    die "invalid ssh user '$user' (NIXLAB_SSH_USER)"
  if [[ ! "$port" =~ ^[0-9]{1,5}$ ]] || (( 10#$port < 1 || 10#$port > 65535 )); then
    die "invalid ssh port '$port' (NIXLAB_SSH_PORT): use 1-65535"
  fi

  SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout=15 -p "$((10#$port))")
  if [[ -n "$key" ]]; then
    if [[ -f "$key" && -r "$key" ]]; then
      # Only this key: IdentitiesOnly still asks the agent for matching
      # keys, and an agent that is gone (a stale SSH_AUTH_SOCK) only adds
      # noise. IdentityAgent=none leaves it out altogether (OpenSSH 7.3+).
      SSH_OPTS+=(-i "$key" -o IdentitiesOnly=yes -o IdentityAgent=none)
    elif [[ "$action" == delete ]]; then
      # A delete runs with the inputs of the run that created the upload,
      # possibly from a checkout or machine that is gone: fall back to the
      # ssh-agent rather than leave the ISO behind.
      log "warning: ssh key file $key (NIXLAB_SSH_KEY_FILE) is not readable here; trying the ssh-agent"
    else
      die "ssh key file $key (NIXLAB_SSH_KEY_FILE) does not exist or is not readable"
    fi
  fi
  if [[ -n "$host_key" ]]; then
    [[ "$host_key" =~ ^[A-Za-z0-9@.-]+\ [A-Za-z0-9+/=]+(\ .*)?$ && "$host_key" != *$'\n'* ]] ||
      die "NIXLAB_SSH_HOST_KEY is not one OpenSSH public key line (\"ssh-ed25519 AAAA...\")"
    KNOWN_HOSTS="$(mktemp "${TMPDIR:-/tmp}/nixlab-known-hosts.XXXXXX")" || die "cannot create a temporary known_hosts file"
    trap 'rm -f -- "$KNOWN_HOSTS"' EXIT
    if (( 10#$port == 22 )); then
      printf '%s %s\n' "$host" "$host_key" >"$KNOWN_HOSTS"
    else
      printf '[%s]:%d %s\n' "$host" "$((10#$port))" "$host_key" >"$KNOWN_HOSTS"
    fi
    local known_hosts_opt="$KNOWN_HOSTS"
    # ssh splits UserKnownHostsFile on whitespace unless the path is quoted.
    if [[ "$known_hosts_opt" == *[[:space:]]* ]]; then
      known_hosts_opt="\"$known_hosts_opt\""
    fi
    SSH_OPTS+=(-o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$known_hosts_opt")
  else
    SSH_OPTS+=(-o StrictHostKeyChecking=accept-new)
  fi
  SSH_TARGET="$user@$host"
  VOLUME_ID="$STORAGE:iso/$FILE_NAME"
}

# ssh_run runs the command string $1 on the Proxmox host with the caller's stdin.
ssh_run() {
  # The remote command string is meant to be expanded here: every value in it
  # was quoted for the remote shell with printf %q (see quote_cmd).
  # shellcheck disable=SC2029
  ssh "${SSH_OPTS[@]}" "$SSH_TARGET" "$1"
}

# remote runs the command string $1 on the Proxmox host; stdin is not forwarded.
remote() {
  ssh_run "$1" </dev/null
}

# check_iso_storage fails unless $STORAGE exists on the host, is enabled,
# allows ISO images and is active. `pvesm path` cannot tell: it maps an iso/
# volume of any directory storage to a path whatever the storage's content
# types (pve-storage 9.1.7, PVE::Storage::path -> PVE::Storage::Plugin::
# filesystem_path), so an upload there would succeed and Proxmox would never
# offer the ISO. `pvesm status --storage S --content iso` lists S only when it
# is enabled and has the iso content type (PVE::Storage::storage_info) and
# else fails with "storage: No such storage." (PVE::API2::Storage::Status,
# index); its table is a header line ("Name Type Status Total (KiB) ..."),
# then "<name> <type> <status> <total> <used> <available> <%>" with status
# active, inactive (cannot be activated, e.g. an unreachable NFS server) or
# disabled (PVE::CLI::pvesm, $print_status).
check_iso_storage() {
  local out rc=0 name type state rest
  out="$(remote "$(quote_cmd pvesm status --storage "$STORAGE" --content iso)")" || rc=$?
  if (( rc != 0 )); then
    die "storage '$STORAGE' (nixlab:proxmox.isoStorage) on $SSH_TARGET does not exist, is disabled or does not allow ISO images ('pvesm status' exit $rc, see above). Enable 'ISO image' under Datacenter > Storage > $STORAGE > Content, or set nixlab:proxmox.isoStorage to a storage that has it (e.g. local)"
  fi
  while read -r name type state rest; do
    [[ "$name" == "$STORAGE" && "$type" != Type ]] || continue
    if [[ "$state" == active ]]; then
      return 0
    fi
    die "storage '$STORAGE' (nixlab:proxmox.isoStorage, type $type) on $SSH_TARGET is $state: Proxmox cannot activate it (is its server reachable, its path mounted?); fix the storage or choose another one"
  done <<<"$out"
  die "unexpected answer from 'pvesm status --storage $STORAGE --content iso' on $SSH_TARGET (storage not listed): '$out'"
}

# resolve_dest prints the absolute path of $VOLUME_ID on the host (run it
# after check_iso_storage: `pvesm path` does not check the content types).
resolve_dest() {
  local out rc=0
  out="$(remote "$(quote_cmd pvesm path "$VOLUME_ID")")" || rc=$?
  if (( rc != 0 )); then
    die "cannot resolve $VOLUME_ID on $SSH_TARGET: 'pvesm path' failed (exit $rc, see above); storage '$STORAGE' (nixlab:proxmox.isoStorage) must be a file-based storage (dir, NFS, CIFS, ...) with ISO content"
  fi
  if [[ "$out" != /* || "$out" == *$'\n'* || "${out##*/}" != "$FILE_NAME" ]]; then
    die "unexpected answer from 'pvesm path $VOLUME_ID' on $SSH_TARGET: '$out'; does storage '$STORAGE' allow ISO content?"
  fi
  printf '%s\n' "$out"
}

local_sha256() {
  local out
  if command -v sha256sum >/dev/null 2>&1; then
    out="$(sha256sum <"$1")" || return 1
  else
    out="$(shasum -a 256 <"$1")" || return 1
  fi
  printf '%s\n' "${out%% *}"
}

# remote_sha256 prints the sha256 of remote file $1, or nothing when it does not exist.
remote_sha256() {
  local out q
  q="$(printf '%q' "$1")"
  # Hash stdin: sha256sum escapes some file names in its output.
  out="$(remote "if test -f $q; then sha256sum < $q; fi")" || return 1
  printf '%s\n' "${out%% *}"
}

human_size() {
  local bytes="$1"
  if (( bytes >= 1073741824 )); then
    printf '%d.%02d GiB\n' "$((bytes / 1073741824))" "$((bytes % 1073741824 * 100 / 1073741824))"
  elif (( bytes >= 1048576 )); then
    printf '%d.%02d MiB\n' "$((bytes / 1048576))" "$((bytes % 1048576 * 100 / 1048576))"
  else
    printf '%d bytes\n' "$bytes"
  fi
}

create() {
  local iso="${NIXLAB_ISO_PATH:-}" dest part size local_sum existing_sum remote_sum rc=0
  [[ -n "$iso" ]] || die "NIXLAB_ISO_PATH is not set"
  [[ -f "$iso" && -r "$iso" ]] || die "ISO $iso (NIXLAB_ISO_PATH) does not exist or is not a readable file"
  size="$(wc -c <"$iso")" || die "cannot read $iso"
  size="${size//[[:space:]]/}"

  check_iso_storage
  dest="$(resolve_dest)"
  part="$dest.part"

  log "computing the sha256 of $iso ($(human_size "$size"))"
  local_sum="$(local_sha256 "$iso")" || die "cannot compute the sha256 of $iso"

  existing_sum="$(remote_sha256 "$dest")" || die "cannot check for an existing $dest on $SSH_TARGET"
  if [[ -n "$existing_sum" && "$existing_sum" == "$local_sum" ]]; then
    log "$VOLUME_ID is already on $SSH_TARGET with sha256 $local_sum; skipping the upload"
    printf '%s\n' "$VOLUME_ID"
    return 0
  fi
  if [[ -n "$existing_sum" ]]; then
    log "$dest on $SSH_TARGET has a different sha256 ($existing_sum); replacing it"
  fi

  log "uploading $iso ($(human_size "$size")) to $SSH_TARGET:$part"
  ssh_run "cat > $(printf '%q' "$part")" <"$iso" >&2 || rc=$?
  if (( rc != 0 )); then
    die "upload to $SSH_TARGET:$part failed (ssh exit $rc, see above)"
  fi

  log "verifying the sha256 of $SSH_TARGET:$part"
  remote_sum="$(remote_sha256 "$part")" || die "cannot compute the sha256 of $part on $SSH_TARGET"
  if [[ "$remote_sum" != "$local_sum" ]]; then
    remote "$(quote_cmd rm -f -- "$part")" >&2 || log "warning: cannot remove $part on $SSH_TARGET"
    die "checksum mismatch after upload: local sha256 $local_sum, remote sha256 ${remote_sum:-<none>} ($part removed); retry the deployment"
  fi
  remote "$(quote_cmd mv -f -- "$part" "$dest")" >&2 || die "cannot move $part to $dest on $SSH_TARGET"
  log "uploaded $VOLUME_ID ($(human_size "$size"), sha256 $local_sum)"
  printf '%s\n' "$VOLUME_ID"
}

delete() {
  local dest
  check_iso_storage
  dest="$(resolve_dest)"
  remote "$(quote_cmd rm -f -- "$dest" "$dest.part")" >&2 || die "cannot remove $dest on $SSH_TARGET"
  log "removed $VOLUME_ID ($dest) from $SSH_TARGET"
}

main() {
  (( $# == 1 )) || usage
  case "$1" in
    create | delete) ;;
    *) usage ;;
  esac
  validate "$1"
  "$1"
}

main "$@"
