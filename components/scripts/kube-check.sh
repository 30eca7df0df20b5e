#!/usr/bin/env bash
# kube-check.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` for kubectl with admin.conf. The cluster
# check at the end of `up`: nodes, DNS and storage, each failure named.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-check <expectedNodes> <flannel|calico|none> <storageClass|-> <timeoutSeconds>
#       stdin: the check objects (components/kubeadm CheckManifests: namespace
#              nixlab-check, Pod dns, and with a storage class PVC data and
#              Pod storage)
#
#   expectedNodes   positive integer: how many Nodes the cluster must have
#   cni             flannel, calico or none
#   storageClass    the StorageClass the PVC uses (messages), or - for none
#   timeoutSeconds  positive integer: the whole check's time limit
#
# Steps, in this order (the phase name is the one in messages):
#   api       wait until the API server answers through admin.conf.
#   nodes     wait until exactly expectedNodes Nodes are registered.
#   ready     (cni flannel/calico) `kubectl wait --for=condition=Ready node
#             --all`. With cni none no node becomes Ready (no pod network),
#             so neither this nor the DNS and storage checks can pass: they
#             are skipped and the summary says so.
#   workloads a leftover namespace nixlab-check is deleted first (waiting for
#             it); the objects are applied (`kubectl apply -f -`); `kubectl
#             wait --for=jsonpath={.status.phase}=Succeeded pod --all` in the
#             namespace. A failure lists each pod's phase and the namespace's
#             recent events: Pod dns not Succeeded means CoreDNS does not
#             answer (or pods get no network: the CNI); Pod storage or PVC
#             data means the StorageClass does not provision/mount.
#             The namespace is deleted at the end, also after a failure
#             (without waiting).
#
# stdout: one line, e.g. `cluster ok: 3 nodes Ready, CoreDNS answering, PVC
#   on nfs bound, written and read back`.
# stderr: progress lines `[cluster] <phase>: <what>`; on failure
#   `[cluster] <phase>: failed: <why>` and the last 20 lines of kubectl's
#   output.
# Exit: 0 ok; 1 failed; 2 invalid arguments.
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
readonly SCRIPT_NAME="kube-check"
readonly NAMESPACE="nixlab-check"

NODE="cluster"
PHASE="arguments"
OUT=""
INPUT=""
EXPECTED=""
CNI=""
CLASS=""
TIMEOUT=""
DEADLINE=0
APPLIED=0

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <expectedNodes> <flannel|calico|none> <storageClass|-> <timeoutSeconds>  (stdin: check manifests)\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 4 )) || usage "expected 4 arguments, got $#"
  [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] || usage "invalid node count '$1': use a positive number"
  [[ "$2" == flannel || "$2" == calico || "$2" == none ]] || usage "invalid cni '$2': use flannel, calico or none"
  [[ "$3" == - || "$3" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || usage "invalid storage class '$3'"
  [[ "$4" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$4': use a positive number of seconds"
  EXPECTED="$1"
  CNI="$2"
  CLASS="$3"
  TIMEOUT="$4"
}

# Shared helpers (log, fail, run, wait_until, secret_file, ...) are in
# kube-common.sh beside this file; components.scriptCommand inlines it here
# when the script is sent as `bash -c`.
# shellcheck source-path=SCRIPTDIR source=kube-common.sh
source "${BASH_SOURCE[0]%/*}/kube-common.sh"

# kubectl_long ARGS... runs kubectl as root with admin.conf for commands
# that watch (wait, delete --wait): no --request-timeout, which would cut
# their watch short; they are bounded by their own --timeout.
kubectl_long() {
  sudo -n kubectl --kubeconfig "$KUBE_DIR/admin.conf" "$@"
}

# left prints the seconds left until DEADLINE, at least 1.
left() {
  local s=$((DEADLINE - SECONDS))
  (( s > 0 )) || s=1
  printf '%s\n' "$s"
}

NODE_NAMES=()
node_count_is_expected() {
  run kubectl_admin get nodes -o name || return 1
  mapfile -t NODE_NAMES < <(printf '%s\n' "$OUT" | sed -n 's|^node/||p')
  (( ${#NODE_NAMES[@]} == EXPECTED ))
}

remove_namespace() {
  if (( APPLIED )); then
    sudo -n kubectl --kubeconfig "$KUBE_DIR/admin.conf" --request-timeout=30s delete namespace "$NAMESPACE" \
      --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
}

# workload_report sets OUT to the pods' phases and the namespace's events.
workload_report() {
  local pods events
  pods="$(kubectl_admin -n "$NAMESPACE" get pods,pvc -o wide 2>&1)" || true
  events="$(kubectl_admin -n "$NAMESPACE" get events --sort-by=.lastTimestamp 2>&1)" || true
  OUT="$pods"$'\n'"$events"
}

main() {
  parse_args "$@"
  DEADLINE=$((SECONDS + TIMEOUT))
  PHASE="manifests"
  read_stdin "the check manifests"
  PHASE="api"
  wait_until "$TIMEOUT" api_ready ||
    fail "the API server did not answer through $KUBE_DIR/admin.conf within $TIMEOUT s"

  PHASE="nodes"
  wait_until "$(left)" node_count_is_expected ||
    fail "want $EXPECTED registered nodes, have ${#NODE_NAMES[@]} (${NODE_NAMES[*]:-none}) after $TIMEOUT s"
  log "$EXPECTED nodes registered"
  if [[ "$CNI" == none ]]; then
    printf 'cluster up: %s nodes registered; cni none: nodes stay NotReady until you install a CNI, so the Ready, CoreDNS and storage checks were skipped\n' "$EXPECTED"
    return 0
  fi

  PHASE="ready"
  run kubectl_long wait --for=condition=Ready node --all "--timeout=$(left)s" ||
    fail "not every node became Ready within $TIMEOUT s: the $CNI pods (kubectl get pods -A -o wide) and 'journalctl -u kubelet' on the node say why"
  log "every node Ready"

  PHASE="workloads"
  trap remove_namespace EXIT
  run kubectl_long delete namespace "$NAMESPACE" --ignore-not-found --wait=true "--timeout=$(left)s" ||
    fail "cannot delete the leftover namespace $NAMESPACE"
  APPLIED=1
  run kubectl_admin apply -f - <<<"$INPUT" || fail "kubectl apply of the check objects failed"
  log "check objects applied; waiting for the check pods"
  if ! run kubectl_long -n "$NAMESPACE" wait --for=jsonpath='{.status.phase}'=Succeeded pod --all "--timeout=$(left)s"; then
    local line hint="" pod
    local -a failed=()
    while IFS= read -r line; do
      if [[ "$line" =~ pods/([a-z0-9.-]+) ]]; then
        failed+=("${BASH_REMATCH[1]}")
      fi
    done <<<"$OUT"
    for pod in "${failed[@]}"; do
      case "$pod" in
        dns) hint+="; Pod dns: CoreDNS does not answer kubernetes.default (kubectl -n kube-system get pods -l k8s-app=kube-dns), or pods get no network from $CNI" ;;
        storage) hint+="; Pod storage: PVC data on StorageClass $CLASS was not bound, mounted or writable (kubectl -n kube-system logs -l app=csi-nfs-controller)" ;;
      esac
    done
    workload_report
    fail "check pod(s) ${failed[*]:-in $NAMESPACE} did not succeed within $TIMEOUT s$hint"
  fi
  if [[ "$CLASS" == - ]]; then
    printf 'cluster ok: %s nodes Ready, CoreDNS answering\n' "$EXPECTED"
  else
    printf 'cluster ok: %s nodes Ready, CoreDNS answering, PVC on %s bound, written and read back\n' "$EXPECTED" "$CLASS"
  fi
}

main "$@"
