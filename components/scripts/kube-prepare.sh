#!/usr/bin/env bash
# kube-prepare.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` for what needs root. Makes sure the
# stack's bootstrap token (and, before a control-plane join, the uploaded
# control-plane certificates) are valid for the next join.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-prepare <joiningNode> <control-plane|worker> <timeoutSeconds>
#       stdin: the kubeadm TokenConfig YAML (components/kubeadm TokenConfig:
#              an InitConfiguration with bootstrapTokens and certificateKey)
#
#   joiningNode     the node about to join, ^[A-Za-z0-9][A-Za-z0-9.-]*$ (messages)
#   role            control-plane or worker: the joining node's role
#   timeoutSeconds  positive integer: bound of the wait for the API server,
#                   of each kubeadm call, and the least lifetime the token
#                   must have left (the join that follows may take that long)
#
# Steps, in this order (the phase name is the one in messages):
#   config    stdin goes to a root-only file (umask 077, in a `sudo mktemp -d`
#             directory under /run, removed on exit); it must hold exactly one
#             bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}). Only its public ID
#             (the first 6 characters, also the name of its Secret) is ever
#             used in a command line.
#   api       wait (bounded) until the API server answers through admin.conf.
#   token     Secret kube-system/bootstrap-token-<id>: missing, or its
#             expiration less than timeoutSeconds + 60 s away: `kubeadm token
#             delete <id>` (when present) and `kubeadm token create --config
#             <file>`, which creates the config's token with its ttl. (`token
#             create` refuses an ID that exists: cmd/kubeadm/app/cmd/token.go
#             RunCreateToken -> phases/bootstraptoken/node CreateNewTokens,
#             failIfExists = true; expired Secrets stay until the
#             tokencleaner controller deletes them.) A Secret without
#             expiration never expires and is kept.
#   certificates  (control-plane only) `kubeadm init phase upload-certs
#             --upload-certs --config <file>`, every time: it re-encrypts the
#             certificates with the config's certificateKey into Secret
#             kube-system/kubeadm-certs (create or update) owned by a new
#             2-hour token, so a join that follows always finds them
#             (copycerts.UploadCerts; the Secret is deleted with its owner
#             after 2 h). Its output prints the key: it is never shown
#             unredacted.
#
# stdout: nothing.
# stderr: progress lines `[<joiningNode>] <phase>: <what>`; on failure
#   `[<joiningNode>] <phase>: failed: <why>` and the last 20 lines of the
#   tool's output, with bootstrap tokens and 64-hex strings redacted.
# Exit: 0 done; 1 failed; 2 invalid arguments (nothing is run then).
#
# Tools used: bash, sudo, kubeadm, kubectl, timeout, mktemp, tee, rm, date,
# base64, sed, tail, sleep.
set -euo pipefail
PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"
umask 077
# For tests only (nothing else reads the environment):
#   NIXLAB_KUBE_DIR           stands for /etc/kubernetes
#   NIXLAB_RUN_DIR            stands for /run (secrets go below it)
#   NIXLAB_KUBE_POLL_SECONDS  poll interval of every wait (default 5)
readonly KUBE_DIR="${NIXLAB_KUBE_DIR:-/etc/kubernetes}"
readonly RUN_DIR="${NIXLAB_RUN_DIR:-/run}"
readonly POLL_SECONDS="${NIXLAB_KUBE_POLL_SECONDS:-5}"
readonly SCRIPT_NAME="kube-prepare"

NODE="kube-prepare"
PHASE="arguments"
OUT=""
SECRET_DIR=""
SECRET_PATH=""
INPUT=""
ROLE=""
TIMEOUT=""

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <joiningNode> <control-plane|worker> <timeoutSeconds>  (stdin: kubeadm TokenConfig)\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 3 )) || usage "expected 3 arguments, got $#"
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || usage "invalid node name '$1'"
  [[ "$2" == control-plane || "$2" == worker ]] || usage "invalid role '$2': use control-plane or worker"
  [[ "$3" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$3': use a positive number of seconds"
  NODE="$1"
  ROLE="$2"
  TIMEOUT="$3"
}

# Shared helpers (log, fail, run, wait_until, secret_file, ...) are in
# kube-common.sh beside this file; components.scriptCommand inlines it here
# when the script is sent as `bash -c`.
# shellcheck source-path=SCRIPTDIR source=kube-common.sh
source "${BASH_SOURCE[0]%/*}/kube-common.sh"

# token_id prints the ID of the one bootstrap token in INPUT.
token_id() {
  local rest="$INPUT" id=""
  while [[ "$rest" =~ (^|[^a-z0-9])([a-z0-9]{6})\.[a-z0-9]{16}([^a-z0-9]|$) ]]; do
    if [[ -n "$id" && "${BASH_REMATCH[2]}" != "$id" ]]; then
      fail "the config holds more than one bootstrap token"
    fi
    id="${BASH_REMATCH[2]}"
    rest="${rest#*"${BASH_REMATCH[0]}"}"
  done
  [[ -n "$id" ]] || fail "the config holds no bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})"
  printf '%s\n' "$id"
}

# token_seconds_left prints how many seconds the token with ID $1 has left:
# "missing", "forever", or a number (negative when expired). The Secret's
# data.expiration is base64 of an RFC 3339 time
# (k8s.io/cluster-bootstrap/token/api BootstrapTokenExpirationKey).
token_seconds_left() {
  local name="bootstrap-token-$1" got exp when epoch
  run kubectl_admin -n kube-system get secret "$name" --ignore-not-found -o 'jsonpath={.metadata.name} {.data.expiration}' ||
    fail "cannot read Secret kube-system/$name"
  got="$OUT"
  if [[ "$got" != "$name"* ]]; then
    printf 'missing\n'
    return 0
  fi
  exp="${got#"$name"}"
  exp="${exp# }"
  if [[ -z "$exp" ]]; then
    printf 'forever\n'
    return 0
  fi
  when="$(printf '%s' "$exp" | base64 -d 2>/dev/null)" || fail "Secret kube-system/$name: expiration is not base64"
  epoch="$(date -d "$when" +%s 2>/dev/null)" || fail "Secret kube-system/$name: cannot read the expiration time '$when'"
  printf '%s\n' $((epoch - $(date +%s)))
}

main() {
  parse_args "$@"
  PHASE="config"
  read_stdin "the kubeadm TokenConfig"
  local id left
  id="$(token_id)"
  secret_file config.yaml "$INPUT"

  PHASE="api"
  wait_until "$TIMEOUT" api_ready ||
    fail "the API server did not answer through $KUBE_DIR/admin.conf within $TIMEOUT s"

  PHASE="token"
  left="$(token_seconds_left "$id")"
  if [[ "$left" == forever ]]; then
    log "bootstrap token $id is valid (it never expires)"
  elif [[ "$left" != missing && "$left" -gt $((TIMEOUT + 60)) ]]; then
    log "bootstrap token $id is valid ($left s left)"
  else
    if [[ "$left" != missing ]]; then
      log "bootstrap token $id expires too soon ($left s left): replacing it"
      run sudo -n timeout --kill-after=10 "$TIMEOUT" kubeadm token delete "$id" ||
        fail "kubeadm token delete $id failed"
    else
      log "bootstrap token $id does not exist: creating it"
    fi
    run sudo -n timeout --kill-after=10 "$TIMEOUT" kubeadm token create --config "$SECRET_PATH" ||
      fail "kubeadm token create failed"
    log "bootstrap token $id created"
  fi

  if [[ "$ROLE" == control-plane ]]; then
    PHASE="certificates"
    log "uploading the control-plane certificates (Secret kube-system/kubeadm-certs, valid 2 h)"
    run sudo -n timeout --kill-after=10 "$TIMEOUT" kubeadm init phase upload-certs --upload-certs --config "$SECRET_PATH" ||
      fail "kubeadm init phase upload-certs failed"
  fi
  PHASE="ready"
  log "ready to join as a $ROLE"
}

main "$@"
