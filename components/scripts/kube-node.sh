#!/usr/bin/env bash
# kube-node.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` for kubectl with admin.conf. Waits until
# a joined node's Node object is registered. It does not wait for Ready:
# with cni none no node ever becomes Ready, and with a CNI the cluster check
# (kube-check.sh) waits for it once the CNI is installed.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-node <node> <timeoutSeconds>
#
#   node            the Node's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$
#   timeoutSeconds  positive integer: how long to wait
#
# Steps: registration: `kubectl get node <node>` every poll (5 s) until it
# succeeds; give up after timeoutSeconds with kubectl's last answer.
#
# stdout: nothing.
# stderr: progress lines `[<node>] registration: <what>`; on failure
#   `[<node>] registration: failed: <why>` and kubectl's last output.
# Exit: 0 registered; 1 not within the timeout; 2 invalid arguments.
#
# Tools used: bash, sudo, kubectl, sed, tail, sleep.
set -euo pipefail
PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"
umask 077
# For tests only (nothing else reads the environment):
#   NIXLAB_KUBE_DIR           stands for /etc/kubernetes
#   NIXLAB_KUBE_POLL_SECONDS  poll interval of every wait (default 5)
readonly KUBE_DIR="${NIXLAB_KUBE_DIR:-/etc/kubernetes}"
readonly POLL_SECONDS="${NIXLAB_KUBE_POLL_SECONDS:-5}"
readonly SCRIPT_NAME="kube-node"

NODE="kube-node"
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

node_registered() {
  run kubectl_admin get node "$NODE" -o name
}

main() {
  parse_args "$@"
  PHASE="registration"
  log "waiting for the Node object (up to $TIMEOUT s)"
  wait_until "$TIMEOUT" node_registered ||
    fail "node $NODE did not register within $TIMEOUT s (see 'journalctl -u kubelet' on $NODE)"
  log "registered"
}

main "$@"
