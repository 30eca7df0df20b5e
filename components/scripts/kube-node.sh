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
