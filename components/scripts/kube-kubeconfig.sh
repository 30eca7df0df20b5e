#!/usr/bin/env bash
# kube-kubeconfig.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` to read admin.conf. Prints the cluster
# admin's kubeconfig (a secret: the caller keeps it secret and logs nothing).
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-kubeconfig <node> <timeoutSeconds>
#
#   node            the first control plane's name (messages)
#   timeoutSeconds  positive integer: how long to wait for the API server
#
# Steps: api: wait (bounded) until the API server answers through
# /etc/kubernetes/admin.conf (server = the control-plane endpoint); then
# print the file.
#
# stdout: /etc/kubernetes/admin.conf, nothing else.
# stderr: progress lines `[<node>] <phase>: <what>`; on failure
#   `[<node>] <phase>: failed: <why>` and kubectl's last output.
# Exit: 0 printed; 1 failed; 2 invalid arguments.
#
# Tools used: bash, sudo, kubectl, cat, sed, tail, sleep.
set -euo pipefail
PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"
umask 077
# For tests only (nothing else reads the environment):
#   NIXLAB_KUBE_DIR           stands for /etc/kubernetes
#   NIXLAB_KUBE_POLL_SECONDS  poll interval of every wait (default 5)
readonly KUBE_DIR="${NIXLAB_KUBE_DIR:-/etc/kubernetes}"
readonly POLL_SECONDS="${NIXLAB_KUBE_POLL_SECONDS:-5}"
readonly SCRIPT_NAME="kube-kubeconfig"

NODE="kube-kubeconfig"
PHASE="arguments"
OUT=""
TIMEOUT=""

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <node> <timeoutSeconds>\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 2 )) || usage "expected 2 arguments, got $#"
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || usage "invalid node name '$1'"
  [[ "$2" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$2': use a positive number of seconds"
  NODE="$1"
  TIMEOUT="$2"
}

# Shared helpers (log, fail, run, wait_until, secret_file, ...) are in
# kube-common.sh beside this file; components.scriptCommand inlines it here
# when the script is sent as `bash -c`.
# shellcheck source-path=SCRIPTDIR source=kube-common.sh
source "${BASH_SOURCE[0]%/*}/kube-common.sh"

main() {
  parse_args "$@"
  PHASE="api"
  wait_until "$TIMEOUT" api_ready ||
    fail "the API server did not answer through $KUBE_DIR/admin.conf within $TIMEOUT s"
  PHASE="kubeconfig"
  OUT=""
  sudo -n cat "$KUBE_DIR/admin.conf" || fail "cannot read $KUBE_DIR/admin.conf"
  log "printed $KUBE_DIR/admin.conf"
}

main "$@"
