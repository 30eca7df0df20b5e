#!/usr/bin/env bash
# host-key.sh — read the Proxmox host's ed25519 SSH host key on first contact
# (trust on first use). Run by a Pulumi command:local:Command whose stdout the
# stack keeps: every later connection to the host checks this key.
#
# Usage: host-key.sh
#
# Environment:
#   NIXLAB_SSH_HOST          Proxmox host (name or IP address)
#   NIXLAB_SSH_PORT          ssh port (default 22)
#   NIXLAB_KEYSCAN_TIMEOUT   seconds ssh-keyscan waits for the host (default 15)
#
# stdout: exactly one line, "ssh-ed25519 <base64>" (no host name, no comment).
# Everything else goes to stderr. Fails when the host sends no ed25519 key or
# more than one different one.
set -euo pipefail

readonly SCRIPT_NAME="host-key.sh"
# An ed25519 public key blob is string "ssh-ed25519" (4+11 bytes) plus string
# key (4+32 bytes): 51 bytes, 68 base64 characters without padding.
readonly ED25519_BLOB_RE='^AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$'

HOST=""
PORT=""
TIMEOUT=""

log() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

validate() {
  HOST="${NIXLAB_SSH_HOST:-}"
  PORT="${NIXLAB_SSH_PORT:-22}"
  TIMEOUT="${NIXLAB_KEYSCAN_TIMEOUT:-15}"
  [[ -n "$HOST" ]] || die "NIXLAB_SSH_HOST is not set"
  [[ "$HOST" =~ ^[A-Za-z0-9._:%-]+$ && "$HOST" != -* ]] ||
    die "invalid ssh host '$HOST' (NIXLAB_SSH_HOST)"
  if [[ ! "$PORT" =~ ^[0-9]{1,5}$ ]] || (( 10#$PORT < 1 || 10#$PORT > 65535 )); then
    die "invalid ssh port '$PORT' (NIXLAB_SSH_PORT): use 1-65535"
  fi
  PORT="$((10#$PORT))"
  [[ "$TIMEOUT" =~ ^[1-9][0-9]{0,3}$ ]] ||
    die "invalid timeout '$TIMEOUT' (NIXLAB_KEYSCAN_TIMEOUT): use 1-9999 seconds"
  command -v ssh-keyscan >/dev/null 2>&1 ||
    die "ssh-keyscan is not installed (it comes with the OpenSSH client); install it, or set nixlab:proxmox.ssh.hostKey to the host's ed25519 key"
}

# scan prints ssh-keyscan's key lines ("<host> <type> <base64>"). Its banner
# comments ("# host:port SSH-2.0-...") and errors go to stderr. It exits 1
# when it got no key: the host is unreachable or offers no ed25519 key
# (OpenSSH 9.2p1).
scan() {
  local out rc=0
  out="$(ssh-keyscan -T "$TIMEOUT" -t ed25519 -p "$PORT" -- "$HOST")" || rc=$?
  if (( rc != 0 )); then
    die "no ed25519 host key from $HOST:$PORT (ssh-keyscan -t ed25519 -p $PORT $HOST exit $rc, see above): check nixlab:proxmox.ssh.host and nixlab:proxmox.ssh.port, that sshd runs on the host and has an ed25519 key (ssh-keygen -A creates it), or set nixlab:proxmox.ssh.hostKey"
  fi
  printf '%s\n' "$out"
}

# pick prints the one ed25519 key among the scanned lines on stdin.
pick() {
  local line host type blob key="" others=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    [[ -z "${line//[[:space:]]/}" || "$line" == '#'* ]] && continue
    read -r host type blob _ <<<"$line"
    if [[ "$type" != ssh-ed25519 ]]; then
      others=$((others + 1))
      continue
    fi
    [[ "$blob" =~ $ED25519_BLOB_RE ]] ||
      die "$HOST:$PORT sent a malformed ssh-ed25519 key for $host; not recording it"
    if [[ -n "$key" && "$key" != "$blob" ]]; then
      die "$HOST:$PORT answered with more than one different ssh-ed25519 key; not recording either. Check that nixlab:proxmox.ssh.host names one machine, or set nixlab:proxmox.ssh.hostKey"
    fi
    key="$blob"
  done
  if [[ -z "$key" ]]; then
    if (( others > 0 )); then
      die "$HOST:$PORT offers no ed25519 host key (only other types); nixlab pins ed25519 keys: create one on the host (ssh-keygen -A) or set nixlab:proxmox.ssh.hostKey to an ECDSA key"
    fi
    die "no ed25519 host key from $HOST:$PORT (ssh-keyscan printed none); check nixlab:proxmox.ssh.host and nixlab:proxmox.ssh.port and that sshd runs on the host"
  fi
  printf 'ssh-ed25519 %s\n' "$key"
}

# fingerprint prints the SHA256 fingerprint of key line $1, as
# `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` shows it on the host, or
# nothing when ssh-keygen is missing or fails.
fingerprint() {
  local out
  command -v ssh-keygen >/dev/null 2>&1 || return 0
  out="$(ssh-keygen -l -E sha256 -f - <<<"$1" 2>/dev/null)" || return 0
  read -r _ out _ <<<"$out"
  printf '%s\n' "$out"
}

main() {
  (( $# == 0 )) || die "usage: $SCRIPT_NAME (takes no arguments; see the environment in its header)"
  validate
  local scanned key fp
  scanned="$(scan)"
  key="$(pick <<<"$scanned")"
  fp="$(fingerprint "$key")"
  log "recorded the ed25519 host key of $HOST:$PORT: $key"
  if [[ -n "$fp" ]]; then
    log "its fingerprint is $fp; compare it with what ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub prints on the host console"
  fi
  printf '%s\n' "$key"
}

main "$@"
