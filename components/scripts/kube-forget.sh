#!/usr/bin/env bash
# kube-forget.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` for kubectl with admin.conf. After a node
# left (kube-drain.sh, kube-leave.sh): removes what the cluster still keeps
# of it: the Node object and, for a control plane, its etcd member when
# `kubeadm reset` on the node could not remove it (the node was gone or etcd
# did not answer).
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-forget <node> <control-plane|worker>
#
#   node  the removed node's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$
#   role  control-plane or worker
#
# Steps, in this order (the phase name is the one in messages):
#   etcd   (control-plane only) in a running etcd pod on another control
#          plane (kube-system, label component=etcd): `etcdctl member list`
#          (simple format, one member a line: "<hex id>, <status>, <name>,
#          <peer urls>, <client urls>, <is learner>"; etcdctl
#          printer_simple.go MemberList); the member named <node> (kubeadm
#          names stacked members after their node) is removed with `etcdctl
#          member remove <id>`. No such member: nothing to do.
#   node   `kubectl delete node <node> --ignore-not-found`.
#
# stdout: nothing.
# stderr: progress lines `[<node>] <phase>: <what>`; on failure
#   `[<node>] <phase>: failed: <why>` and the last 20 lines of the tool's
#   output.
# Exit: 0 done (also when there was nothing left); 1 failed; 2 invalid
# arguments.
#
# Tools used: bash, sudo, kubectl (exec into the etcd pod, whose image has
# etcdctl), sed, tail.
set -euo pipefail
PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"
umask 077
# For tests only (nothing else reads the environment):
#   NIXLAB_KUBE_DIR           stands for /etc/kubernetes
readonly KUBE_DIR="${NIXLAB_KUBE_DIR:-/etc/kubernetes}"
readonly SCRIPT_NAME="kube-forget"
# etcdctl's TLS settings inside kubeadm's etcd pod (hostPath etcd-certs).
readonly ETCDCTL_TLS=(--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt
  --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key)

NODE="kube-forget"
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

forget_etcd_member() {
  local pod="" name host id state="" status member rest
  run kubectl_admin -n kube-system get pods -l component=etcd --field-selector=status.phase=Running \
    -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.nodeName}{"\n"}{end}' ||
    fail "cannot list the etcd pods"
  while read -r name host; do
    if [[ -n "$name" && "$host" != "$NODE" ]]; then
      pod="$name"
      break
    fi
  done <<<"$OUT"
  [[ -n "$pod" ]] || fail "no running etcd pod on another control plane to remove $NODE's member with"
  run kubectl_admin -n kube-system exec "$pod" -- etcdctl "${ETCDCTL_TLS[@]}" member list ||
    fail "etcdctl member list in $pod failed"
  id=""
  while IFS=', ' read -r member status name rest; do
    if [[ "$name" == "$NODE" ]]; then
      id="$member"
      state="$status"
    fi
  done <<<"$OUT"
  if [[ -z "$id" ]]; then
    log "no etcd member named $NODE (kubeadm reset removed it)"
    return 0
  fi
  log "removing the leftover etcd member $id ($state) with $pod"
  run kubectl_admin -n kube-system exec "$pod" -- etcdctl "${ETCDCTL_TLS[@]}" member remove "$id" ||
    fail "etcdctl member remove $id failed"
  log "etcd member $id removed"
}

main() {
  parse_args "$@"
  if [[ "$ROLE" == control-plane ]]; then
    PHASE="etcd"
    forget_etcd_member
  fi
  PHASE="node"
  run kubectl_admin delete node "$NODE" --ignore-not-found || fail "kubectl delete node failed"
  log "Node object deleted"
}

main "$@"
