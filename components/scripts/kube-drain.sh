#!/usr/bin/env bash
# kube-drain.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` for kubectl with admin.conf. Before a node
# is removed: refuses a removal that would break the control plane, then
# cordons and drains the node. (kube-leave.sh then resets the node,
# kube-forget.sh deletes the Node object and a leftover etcd member.)
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-drain <node> <control-plane|worker> <drainTimeoutSeconds>
#
#   node                 the Node to remove, ^[A-Za-z0-9][A-Za-z0-9.-]*$
#   role                 control-plane or worker
#   drainTimeoutSeconds  positive integer: `kubectl drain --timeout`
#
# Steps, in this order (the phase name is the one in messages):
#   node      `kubectl get node <node>`: not found means nothing to drain
#             (exit 0: a re-run after the Node was deleted).
#   quorum    (control-plane only) refuse when <node> is the last control
#             plane (nodes labelled node-role.kubernetes.io/control-plane), and
#             when the etcd members that stay healthy would be fewer than the
#             quorum of the members that stay (floor(n/2)+1, etcd's majority).
#             Members and their health are kubeadm's stacked etcd static pods
#             in kube-system (label component=etcd, one per control plane, on
#             spec.nodeName; healthy = condition Ready True).
#   cordon    `kubectl cordon <node>`.
#   drain     `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data
#             --timeout=<drainTimeoutSeconds>s`: evictions honour
#             PodDisruptionBudgets (kubectl retries a refused eviction until
#             the timeout, then fails: k8s.io/kubectl/pkg/drain drain.go
#             evictPods). On failure the node stays cordoned.
#
# stdout: nothing.
# stderr: progress lines `[<node>] <phase>: <what>`; on failure
#   `[<node>] <phase>: failed: <why>` and the last 20 lines of kubectl's
#   output.
# Exit: 0 drained (or nothing to drain); 1 refused or failed; 2 invalid
# arguments.
#
# Tools used: bash, sudo, kubectl, timeout, sed, tail.
set -euo pipefail
PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"
umask 077
# For tests only (nothing else reads the environment):
#   NIXLAB_KUBE_DIR           stands for /etc/kubernetes
readonly KUBE_DIR="${NIXLAB_KUBE_DIR:-/etc/kubernetes}"
readonly SCRIPT_NAME="kube-drain"
readonly CP_LABEL="node-role.kubernetes.io/control-plane"

NODE="kube-drain"
PHASE="arguments"
OUT=""
ROLE=""
DRAIN_TIMEOUT=""

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <node> <control-plane|worker> <drainTimeoutSeconds>\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 3 )) || usage "expected 3 arguments, got $#"
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || usage "invalid node name '$1'"
  [[ "$2" == control-plane || "$2" == worker ]] || usage "invalid role '$2': use control-plane or worker"
  [[ "$3" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid drain timeout '$3': use a positive number of seconds"
  NODE="$1"
  ROLE="$2"
  DRAIN_TIMEOUT="$3"
}

# Shared helpers (log, fail, run, wait_until, secret_file, ...) are in
# kube-common.sh beside this file; components.scriptCommand inlines it here
# when the script is sent as `bash -c`.
# shellcheck source-path=SCRIPTDIR source=kube-common.sh
source "${BASH_SOURCE[0]%/*}/kube-common.sh"

# check_quorum refuses to remove the last control plane or to leave etcd
# without a healthy majority.
check_quorum() {
  local line name ready members=0 healthy=0 leaving=0 leaving_healthy=0 stay stay_healthy quorum
  local -a planes=() unhealthy=()
  run kubectl_admin get nodes -l "$CP_LABEL" -o name || fail "cannot list the control-plane nodes"
  mapfile -t planes < <(printf '%s\n' "$OUT" | sed -n 's|^node/||p')
  if (( ${#planes[@]} <= 1 )); then
    fail "refusing to remove $NODE: it is the last control plane (the cluster needs at least one; remove the whole lab with 'pulumi destroy' instead)"
  fi
  run kubectl_admin -n kube-system get pods -l component=etcd \
    -o 'jsonpath={range .items[*]}{.spec.nodeName}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' ||
    fail "cannot list the etcd members (pods with label component=etcd in kube-system)"
  while read -r name ready; do
    [[ -n "$name" ]] || continue
    members=$((members + 1))
    if [[ "$ready" == True ]]; then
      healthy=$((healthy + 1))
    else
      unhealthy+=("$name")
    fi
    if [[ "$name" == "$NODE" ]]; then
      leaving=1
      [[ "$ready" != True ]] || leaving_healthy=1
    fi
  done <<<"$OUT"
  stay=$((members - leaving))
  stay_healthy=$((healthy - leaving_healthy))
  quorum=$((stay / 2 + 1))
  if (( stay_healthy < quorum )); then
    OUT=""
    fail "refusing to remove $NODE: etcd would keep $stay members of which $stay_healthy healthy, but needs $quorum (a majority of $stay) to keep quorum; unhealthy now: ${unhealthy[*]:-none}. Repair them first"
  fi
  log "etcd keeps quorum: $stay_healthy of $stay members healthy after the removal (needs $quorum)"
}

main() {
  parse_args "$@"
  PHASE="node"
  if ! run kubectl_admin get node "$NODE" -o name; then
    [[ "$OUT" == *"(NotFound)"* ]] || fail "cannot read node $NODE"
    log "no Node object: nothing to drain"
    return 0
  fi
  if [[ "$ROLE" == control-plane ]]; then
    PHASE="quorum"
    check_quorum
  fi
  PHASE="cordon"
  run kubectl_admin cordon "$NODE" || fail "kubectl cordon failed"
  log "cordoned"
  PHASE="drain"
  log "draining (up to $DRAIN_TIMEOUT s; PodDisruptionBudgets are honoured)"
  run sudo -n timeout --kill-after=10 $((DRAIN_TIMEOUT + 60)) kubectl --kubeconfig "$KUBE_DIR/admin.conf" \
    drain "$NODE" --ignore-daemonsets --delete-emptydir-data "--timeout=${DRAIN_TIMEOUT}s" ||
    fail "kubectl drain did not finish within $DRAIN_TIMEOUT s (a PodDisruptionBudget that allows no disruption, or pods that do not stop); $NODE stays cordoned: fix that and re-run, or 'kubectl uncordon $NODE' to keep it"
  log "drained"
}

main "$@"
