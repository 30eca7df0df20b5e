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

# Shared helpers: each kube-*.sh is sent alone as `bash -c`, so nothing can be
# sourced; these functions have the same text in every script that uses them
# (TestScriptKubeCommon_SharedFunctionsIdentical checks it).

# log MESSAGE prints a progress line `[<node>] <phase>: <message>` on stderr.
log() {
  printf '[%s] %s: %s\n' "$NODE" "$PHASE" "$*" >&2
}

# redact copies stdin to stdout with bootstrap tokens ([a-z0-9]{6}.[a-z0-9]{16},
# kubeadm's bootstraptoken pattern) and 64-hex strings (certificate keys)
# replaced: kubeadm prints both (init's join command, upload-certs' key).
redact() {
  sed -E -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/<redacted-token>/g' -e 's/[0-9a-fA-F]{64}/<redacted-hex>/g'
}

# fail MESSAGE reports the failure and the last 20 lines of the last tool's
# output ($OUT, redacted), then exits 1.
fail() {
  local line
  log "failed: $*"
  if [[ -n "$OUT" ]]; then
    while IFS= read -r line; do
      printf '[%s] %s:   | %s\n' "$NODE" "$PHASE" "$line" >&2
    done < <(printf '%s\n' "$OUT" | tail -n 20 | redact)
  fi
  exit 1
}

# run CMD... runs a command with stdout and stderr captured in OUT and
# returns its exit status.
run() {
  local rc=0
  OUT="$("$@" 2>&1)" || rc=$?
  return "$rc"
}

# kubectl_admin ARGS... runs kubectl as root with the cluster admin's
# kubeconfig (admin.conf is root-only), each request bounded to 30 s.
kubectl_admin() {
  sudo -n kubectl --kubeconfig "$KUBE_DIR/admin.conf" --request-timeout=30s "$@"
}

# wait_until SECONDS CMD... runs CMD every POLL_SECONDS until it succeeds;
# returns 1 once SECONDS have passed (by bash's whole-second clock) without success.
wait_until() {
  local limit="$1" deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@"; do
    (( SECONDS < deadline )) || return 1
    sleep "$POLL_SECONDS"
  done
}

# api_ready succeeds when the API server answers /readyz through admin.conf.
api_ready() {
  run kubectl_admin get --raw=/readyz
}

# cleanup removes the root-only directory holding this run's secrets.
cleanup() {
  if [[ -n "$SECRET_DIR" ]]; then
    sudo -n rm -rf -- "$SECRET_DIR" || true
  fi
}

# secret_file NAME CONTENT writes CONTENT (a secret: it goes through a pipe,
# never an argument) to NAME in a root-only directory under RUN_DIR, created
# on first use and removed when the script exits; prints nothing, sets
# SECRET_PATH.
secret_file() {
  if [[ -z "$SECRET_DIR" ]]; then
    trap cleanup EXIT
    SECRET_DIR="$(sudo -n mktemp -d "$RUN_DIR/nixlab-kube.XXXXXX")" ||
      fail "cannot create a root-only directory under $RUN_DIR with 'sudo -n mktemp -d' (the admin user needs passwordless sudo)"
  fi
  SECRET_PATH="$SECRET_DIR/$1"
  printf '%s\n' "$2" | sudo -n tee "$SECRET_PATH" >/dev/null ||
    fail "cannot write $SECRET_PATH"
}

# read_stdin reads all of stdin into INPUT; fails when it is empty.
read_stdin() {
  INPUT=""
  IFS= read -r -d '' INPUT || true
  [[ -n "${INPUT//[[:space:]]/}" ]] || fail "nothing on stdin: $1 expected"
}

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
