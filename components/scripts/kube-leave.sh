#!/usr/bin/env bash
# kube-leave.sh — runs ON a node that leaves the cluster (after
# kube-drain.sh), over SSH, as the (non-root) admin user; `sudo -n` for what
# needs root. Stops the kubelet and undoes `kubeadm join` with `kubeadm reset
# -f`, which on a control plane also removes its etcd member when etcd
# answers (cmd/kubeadm/app/cmd/phases/reset removeetcdmember) and deletes the
# static pods (kube-vip too) with the rest of /etc/kubernetes.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-leave <node> <control-plane|worker>
#
#   node  the leaving node's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$ (messages)
#   role  control-plane or worker
#
# Steps: identity: the host must be <node> (the kernel's hostname,
# /proc/sys/kernel/hostname, equals it case-insensitively, or its first
# label does): this runs as the delete of the node's join step with the
# address stored when the step was created, and in DHCP mode that address
# may belong to another machine by now (pulumi-command checks no host key
# unless one is given: connection.go, SSHConfig); on another host nothing is
# reset and the step ends with a note (exit 0: the node itself is gone or
# elsewhere). kubelet: `systemctl stop kubelet` (a unit that is not running
# is fine); reset: `kubeadm reset -f`, bounded to 600 s. A node that never joined
# (or was reset already) is reset again harmlessly: kubeadm reset is
# idempotent.
#
# stdout: nothing.
# stderr: progress lines `[<node>] <phase>: <what>`; on failure
#   `[<node>] <phase>: failed: <why>` and the last 20 lines of the tool's
#   output, with bootstrap tokens and 64-hex strings redacted.
# Exit: 0 done; 1 failed; 2 invalid arguments.
#
# Tools used: bash, sudo, systemctl, kubeadm, timeout, sed, tail.
#
# For tests only: NIXLAB_PROC_ROOT stands for /proc.
set -euo pipefail
PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"
umask 077
readonly SCRIPT_NAME="kube-leave"
readonly PROC_ROOT="${NIXLAB_PROC_ROOT:-/proc}"
# Bound of `kubeadm reset -f` (it waits for etcd and the API only briefly).
readonly TIMEOUT=600

NODE="kube-leave"
PHASE="arguments"
OUT=""
ROLE=""

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <node> <control-plane|worker>\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 2 )) || usage "expected 2 arguments, got $#"
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || usage "invalid node name '$1'"
  [[ "$2" == control-plane || "$2" == worker ]] || usage "invalid role '$2': use control-plane or worker"
  NODE="$1"
  ROLE="$2"
}

# Shared helpers (log, fail, run, wait_until, secret_file, ...) are in
# kube-common.sh beside this file; components.scriptCommand inlines it here
# when the script is sent as `bash -c`.
# shellcheck source-path=SCRIPTDIR source=kube-common.sh
source "${BASH_SOURCE[0]%/*}/kube-common.sh"

# is_this_node succeeds when the kernel's hostname is NODE (DNS names
# compare case-insensitively, RFC 4343; cloud-init sets the first label of
# a dotted name); it fails the script when the hostname cannot be read.
is_this_node() {
  local file="$PROC_ROOT/sys/kernel/hostname" name="" want="${NODE,,}"
  [[ -r "$file" ]] || fail "cannot read the hostname from $file"
  IFS= read -r name < "$file" || true
  name="${name,,}"
  if [[ "$name" == "$want" || "$name" == "${want%%.*}" ]]; then
    return 0
  fi
  log "this host is '$name', not $NODE: the node's address belongs to another machine now; nothing reset here"
  return 1
}

main() {
  parse_args "$@"
  PHASE="identity"
  is_this_node || exit 0
  PHASE="kubelet"
  if run sudo -n systemctl stop kubelet; then
    log "kubelet stopped"
  else
    log "could not stop the kubelet (continuing: kubeadm reset stops it too)"
  fi
  PHASE="reset"
  log "running kubeadm reset -f on the $ROLE"
  run sudo -n timeout --kill-after=30 "$TIMEOUT" kubeadm reset -f || fail "kubeadm reset -f failed"
  log "node reset"
}

main "$@"
