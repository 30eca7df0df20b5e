#!/usr/bin/env bash
# vm-drain.sh — runs ON the Proxmox host, as root: drains a Kubernetes node
# before the Proxmox provider updates (and so reboots) its VM, and uncordons
# it after the VM is back and healthy.
#
# Why on the host: the drain step must run BEFORE the VM update, so it may
# use nothing derived from the VM (its DHCP address, the kubeconfig): that
# would be a cycle in the Pulumi graph. What is known without the VMs is the
# VM IDs and the host connection, so the script reaches the cluster through
# the QEMU guest agent of a control-plane VM:
#   qm guest exec <cpVmid> --timeout <s> -- /run/current-system/sw/bin/kubectl
#     --kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache <args>...
# (absolute path: the agent's PATH is not a login PATH; the agent runs as
# root, so the root-only admin.conf is readable).
#
# `qm guest exec` (qemu-server 9.2.6, src/PVE/CLI/qm.pm, method `exec`; the agent side
# in src/PVE/QemuServer/Agent.pm qemu_exec / qemu_exec_status): the words after
# `--` are the argv (the first one the program), nothing is run by a shell.
# It starts the command, then polls its status once a second for up to
# --timeout seconds (default 30). When the command exited in time it prints
# the status as JSON (pretty, keys sorted): `exited` 1, `exitcode` (or
# `signal`), `out-data` / `err-data` (already base64-decoded; absent when
# empty), `out-truncated` / `err-truncated` 1 when the agent cut the output.
# When the timeout passes first it warns "timeout reached, returning pid" and
# prints only `{"pid": N}` (the command keeps running in the guest): this
# script treats that as a failure. When the VM does not run or its agent does
# not answer, qm dies (non-zero exit, "QEMU guest agent is not running").
# qm exits 0 whatever the command's own exit code is.
#
# Usage (as run by a Pulumi command:remote:Command on the host):
#   bash -c '<this script>' vm-drain drain|uncordon <node> <nodeVmid> <timeoutSeconds> <cpVmid>...
#
#   node            the Kubernetes node name (= VM name), a DNS-1123 subdomain
#   nodeVmid        the node's VM ID
#   timeoutSeconds  drain: `kubectl drain --timeout`; uncordon: how long to
#                   wait for the node's Ready condition
#                   (nixlab:updates.drainTimeoutMinutes x 60)
#   cpVmid...       the control-plane VM IDs, in order of preference
#
# Control plane used (both modes): the first VM of the cpVmid list, skipping
# the node's own VM unless it is the only one listed, that runs
# (`qm status`) and answers `kubectl get --raw /readyz` through its agent.
# When none answers: if none of them exists, runs, or has a cluster yet
# (no /etc/kubernetes/admin.conf: kubeadm init/join has not run), there is
# no cluster to drain from: exit 0 with a message. Otherwise (a control
# plane runs but its agent or API server does not answer) exit 1, naming
# every VM tried and why: draining blind is not safe.
#
# drain:
#   - the node's VM does not exist (a node still to be cloned) or does not
#     run: nothing to drain;
#   - the node is not registered (kubectl: NotFound): nothing to drain;
#   - the node is already unschedulable without nixlab's annotation
#     (someone else cordoned it): it is drained, but not annotated, so the
#     uncordon step leaves it cordoned;
#   - otherwise: annotate nixlab.io/vm-update=draining, cordon, then
#     `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data
#     --timeout=<N>s` (k8s.io/kubectl v0.35.7 pkg/cmd/drain/drain.go NewCmdDrain:
#     flags; evictions honour PodDisruptionBudgets, a refused eviction is
#     retried until the global timeout, pkg/drain/drain.go evictPods). On
#     failure the node is uncordoned again (when nixlab cordoned it) and the
#     script fails: the VM update does not happen.
# uncordon (after the VM was updated and its readiness check passed):
#   - the node carries nixlab's annotation: wait up to timeoutSeconds for
#     its Ready condition to be True, then uncordon and remove the
#     annotation; not Ready in time: exit 1, the node stays cordoned and
#     annotated (a re-run picks it up);
#   - otherwise (not drained by nixlab, or cordoned by someone else): leave
#     it as it is.
#
# stdout: one line, the outcome: drained | drained-left-cordoned (it was
#   cordoned by someone else) | uncordoned | skipped.
# stderr: progress lines `[<node>] <what>`; on failure `[<node>] failed:
#   <why>` and the last 20 lines of the tool's output.
# Exit: 0 done (or nothing to do); 1 failed; 2 invalid arguments.
#
# Tools used: bash, qm, timeout (coreutils), perl with JSON::PP, mktemp,
# tail (all on every Proxmox VE host).
set -euo pipefail

readonly SCRIPT_NAME="vm-drain"
readonly KUBECTL="/run/current-system/sw/bin/kubectl"
readonly ADMIN_CONF="/etc/kubernetes/admin.conf"
# kubectl's discovery and HTTP cache: by default $HOME/.kube/cache, but the
# agent's services run without HOME (systemd sets it only with User=), which
# would make it ./.kube/cache in the agent's working directory (client-go
# util/homedir HomeDir, cli-runtime genericclioptions getDefaultCacheDir).
readonly CACHE_DIR="/root/.kube/cache"
readonly ANNOTATION="nixlab.io/vm-update"
readonly ANNOTATION_VALUE="draining"
# One short kubectl request: --request-timeout, and the qm guest exec
# --timeout for it (longer, so that qm reports kubectl's own error instead of
# a bare pid).
readonly REQUEST_TIMEOUT=30
readonly CALL_TIMEOUT=60
# qm guest exec waits this much longer than `kubectl drain --timeout`.
readonly DRAIN_MARGIN=60
# Extra time the host-side `timeout` gives qm beyond its own --timeout (a
# hung agent socket must not stall the step forever).
readonly QM_GRACE=30
# The node fields read: unschedulable, nixlab's annotation, and the Ready
# condition's status, reason and message, tab-separated (kubectl jsonpath:
# a missing field prints nothing; `\.` escapes a dot in a key).
readonly NODE_FIELDS='{.spec.unschedulable}{"\t"}{.metadata.annotations.nixlab\.io/vm-update}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\t"}{.status.conditions[?(@.type=="Ready")].reason}{"\t"}{.status.conditions[?(@.type=="Ready")].message}'
# For tests only (nothing else reads the environment):
#   NIXLAB_POLL_SECONDS   seconds between Ready polls (default 5)
readonly POLL_SECONDS="${NIXLAB_POLL_SECONDS:-5}"

NODE="$SCRIPT_NAME"
MODE=""
NODE_VMID=""
TIMEOUT=""
CP_VMIDS=()
CP=""
OUT=""
AGENT=""
WORK=""
VM_STATE=""
UNSCHEDULABLE=""
NODE_ANNOTATION=""
READY=""
READY_WHY=""

log() {
  printf '[%s] %s\n' "$NODE" "$*" >&2
}

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s drain|uncordon <node> <nodeVmid> <timeoutSeconds> <cpVmid>...\n' "$SCRIPT_NAME" >&2
  exit 2
}

# fail MESSAGE reports the failure and the last 20 lines of $OUT, then exits 1.
fail() {
  local line
  log "failed: $*"
  if [[ -n "$OUT" ]]; then
    while IFS= read -r line; do
      printf '[%s]   | %s\n' "$NODE" "$line" >&2
    done < <(printf '%s\n' "$OUT" | tail -n 20)
  fi
  exit 1
}

# skip MESSAGE ends the run successfully with nothing done.
skip() {
  log "$*"
  printf 'skipped\n'
  exit 0
}

parse_args() {
  (( $# >= 5 )) || usage "expected at least 5 arguments, got $#"
  [[ "$1" == drain || "$1" == uncordon ]] || usage "invalid mode '$1': use drain or uncordon"
  [[ "$2" =~ ^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$ ]] || usage "invalid node name '$2': use a lower-case DNS-1123 name"
  local vmid
  for vmid in "$3" "${@:5}"; do
    [[ "$vmid" =~ ^[1-9][0-9]{2,8}$ ]] || usage "invalid VM ID '$vmid': use an integer from 100 to 999999999"
  done
  [[ "$4" =~ ^[1-9][0-9]{0,6}$ ]] || usage "invalid timeout '$4': use a positive number of seconds"
  MODE="$1"
  NODE="$2"
  NODE_VMID="$3"
  TIMEOUT="$4"
  CP_VMIDS=("${@:5}")
  [[ "$POLL_SECONDS" =~ ^[1-9][0-9]{0,3}$ ]] || usage "invalid NIXLAB_POLL_SECONDS '$POLL_SECONDS'"
}

cleanup() {
  [[ -z "$WORK" ]] || rm -rf -- "$WORK"
}

# vm_state VMID sets VM_STATE to absent, or the status `qm status` reports
# (running, stopped, paused, ...). `qm status` (src/PVE/CLI/qm.pm, method
# `status`) loads the VM's config first, which dies "Configuration file
# ... does not exist" for a VM that does not exist; it prints
# "status: <qmpstatus>". Any other failure ends the script.
vm_state() {
  local vmid="$1" rc=0
  OUT="$(timeout --kill-after=5 "$CALL_TIMEOUT" qm status "$vmid" 2>&1)" || rc=$?
  if (( rc != 0 )); then
    if [[ "$OUT" == *"does not exist"* ]]; then
      VM_STATE="absent"
      return 0
    fi
    fail "cannot read the status of VM $vmid ('qm status $vmid' exited $rc)"
  fi
  VM_STATE="${OUT#status: }"
  VM_STATE="${VM_STATE%%$'\n'*}"
  [[ "$OUT" == "status: "* && -n "$VM_STATE" ]] || fail "'qm status $vmid' printed something else than 'status: <state>'"
}

# exec_result reads qm guest exec's JSON on stdin and prints one status line
# (`exit <code>`, `signal <n>`, `pid <pid>` or `unreadable`), then the
# command's stdout and stderr (with a note when the agent truncated them).
exec_result() {
  perl -MJSON::PP -e '
    my $in = do { local $/; <STDIN> };
    my $r = eval { JSON::PP->new->utf8->decode($in) };
    if (ref $r ne "HASH") { print "unreadable\n"; exit 0 }
    if (!$r->{exited}) {
      print defined $r->{pid} ? "pid $r->{pid}\n" : "unreadable\n";
      exit 0;
    }
    if (defined $r->{exitcode}) { print "exit $r->{exitcode}\n" }
    elsif (defined $r->{signal}) { print "signal $r->{signal}\n" }
    else { print "unreadable\n"; exit 0 }
    for my $k ("out", "err") {
      my $d = $r->{"$k-data"} // "";
      $d .= "\n" if $d ne "" && $d !~ /\n\z/;
      $d .= "(std$k truncated by the guest agent)\n" if $r->{"$k-truncated"};
      print $d;
    }
  '
}

# kubectl_on VMID WAIT ARGS... runs kubectl with the admin kubeconfig in VM
# VMID through its guest agent, qm waiting up to WAIT seconds. Sets OUT
# (kubectl's stdout then stderr, or qm's complaint) and AGENT: exited (OUT is
# kubectl's; the return status is kubectl's exit code), pid (still running
# after WAIT s), agent (qm failed: VM not running, agent not answering),
# hung (qm itself did not return) or unreadable. Returns 0 only when
# kubectl exited 0.
kubectl_on() {
  local vmid="$1" wait="$2" json status rc=0
  shift 2
  json="$(timeout --kill-after=5 $((wait + QM_GRACE)) qm guest exec "$vmid" --timeout "$wait" -- \
    "$KUBECTL" --kubeconfig "$ADMIN_CONF" --cache-dir="$CACHE_DIR" "$@" 2>"$WORK/qm.err")" || rc=$?
  if (( rc == 124 || rc == 137 )); then
    AGENT="hung"
    OUT="qm guest exec $vmid did not return within $((wait + QM_GRACE)) s"
    return 1
  elif (( rc != 0 )); then
    AGENT="agent"
    OUT="$(tail -n 5 "$WORK/qm.err")"
    [[ -n "$OUT" ]] || OUT="qm guest exec $vmid exited $rc"
    return 1
  fi
  OUT="$(exec_result <<<"$json")"
  status="${OUT%%$'\n'*}"
  if [[ "$OUT" == *$'\n'* ]]; then OUT="${OUT#*$'\n'}"; else OUT=""; fi
  OUT="${OUT%$'\n'}"
  case "$status" in
    "exit 0") AGENT="exited"; return 0 ;;
    "exit "*) AGENT="exited"; return 1 ;;
    "signal "*) AGENT="exited"; OUT+="${OUT:+$'\n'}(kubectl was killed by signal ${status#signal })"; return 1 ;;
    "pid "*) AGENT="pid"; OUT="kubectl was still running after $wait s (qm guest exec returned only its pid ${status#pid }, the command goes on in the guest)"; return 1 ;;
    *) AGENT="unreadable"; OUT="qm guest exec printed no exec status: $json"; return 1 ;;
  esac
}

# kubectl_cp ARGS... runs one short kubectl request on the chosen control plane.
kubectl_cp() {
  kubectl_on "$CP" "$CALL_TIMEOUT" --request-timeout="${REQUEST_TIMEOUT}s" "$@"
}

# first_line prints the first line of $OUT.
first_line() {
  printf '%s' "${OUT%%$'\n'*}"
}

# pick_control_plane sets CP to the control-plane VM to reach the cluster
# through; ends the run (skip) when there is no cluster yet, fails when a
# cluster may exist but none answers.
pick_control_plane() {
  local vmid unreachable=0
  local -a candidates=() tried=()
  for vmid in "${CP_VMIDS[@]}"; do
    [[ "$vmid" == "$NODE_VMID" ]] || candidates+=("$vmid")
  done
  (( ${#candidates[@]} > 0 )) || candidates=("$NODE_VMID")
  for vmid in "${candidates[@]}"; do
    vm_state "$vmid"
    case "$VM_STATE" in
      absent) tried+=("VM $vmid does not exist"); continue ;;
      running) ;;
      *) tried+=("VM $vmid is $VM_STATE"); continue ;;
    esac
    if kubectl_on "$vmid" "$CALL_TIMEOUT" --request-timeout="${REQUEST_TIMEOUT}s" get --raw /readyz; then
      CP="$vmid"
      log "using the control plane in VM $vmid"
      return 0
    fi
    if [[ "$AGENT" == exited && "$OUT" == *"stat $ADMIN_CONF: no such file or directory"* ]]; then
      tried+=("VM $vmid has no $ADMIN_CONF yet")
      continue
    fi
    unreachable=1
    case "$AGENT" in
      exited) tried+=("VM $vmid: 'kubectl get --raw /readyz' failed: $(first_line)") ;;
      *) tried+=("VM $vmid: $(first_line)") ;;
    esac
  done
  local list
  list="$(printf '%s; ' "${tried[@]}")"
  list="${list%; }"
  OUT=""
  if (( unreachable == 0 )); then
    skip "no control plane runs a cluster yet ($list): nothing to $MODE"
  fi
  fail "cannot $MODE $NODE safely: no control-plane VM answered through its guest agent ($list). Check that the control-plane VMs run, their qemu-guest-agent answers ('qm guest cmd <vmid> ping') and the API server is up"
}

# read_node sets UNSCHEDULABLE, NODE_ANNOTATION, READY and READY_WHY from
# the Node object. Returns 1 when kubectl fails (OUT says why, AGENT how).
read_node() {
  local rest
  kubectl_cp get node "$NODE" -o "jsonpath=$NODE_FIELDS" || return 1
  IFS=$'\t' read -r UNSCHEDULABLE NODE_ANNOTATION READY rest <<<"$OUT" || true
  READY_WHY="${rest//$'\t'/: }"
}

# not_found tells whether the last kubectl call failed because the Node does
# not exist.
not_found() {
  [[ "$AGENT" == exited && "$OUT" == *"(NotFound)"* ]]
}

# release removes nixlab's cordon and annotation; used after a failed drain.
release() {
  local saved="$OUT"
  if kubectl_cp uncordon "$NODE" && kubectl_cp annotate node "$NODE" "${ANNOTATION}-"; then
    log "uncordoned again (its VM was not updated)"
    OUT="$saved"
    return 0
  fi
  log "could not uncordon it again: $(first_line); run 'kubectl uncordon $NODE' and 'kubectl annotate node $NODE ${ANNOTATION}-'"
  OUT="$saved"
}

# timeout_words prints TIMEOUT for people: minutes when it is whole minutes.
timeout_words() {
  if (( TIMEOUT % 60 == 0 )); then
    if (( TIMEOUT == 60 )); then printf '1 minute'; else printf '%d minutes' $((TIMEOUT / 60)); fi
  else
    printf '%d s' "$TIMEOUT"
  fi
}

do_drain() {
  vm_state "$NODE_VMID"
  case "$VM_STATE" in
    absent) OUT=""; skip "VM $NODE_VMID does not exist yet (a node still to be cloned): nothing to drain" ;;
    running) ;;
    *) OUT=""; skip "VM $NODE_VMID is $VM_STATE, not running: nothing to drain" ;;
  esac
  pick_control_plane
  if ! read_node; then
    not_found && { OUT=""; skip "not in the cluster (no Node object): nothing to drain"; }
    fail "cannot read Node $NODE through VM $CP"
  fi
  local ours=1
  if [[ "$UNSCHEDULABLE" == true && "$NODE_ANNOTATION" != "$ANNOTATION_VALUE" ]]; then
    ours=0
    log "already cordoned by someone else (no $ANNOTATION annotation): draining it; it stays cordoned after its VM update"
  else
    kubectl_cp annotate node "$NODE" "${ANNOTATION}=${ANNOTATION_VALUE}" --overwrite ||
      fail "cannot annotate Node $NODE with ${ANNOTATION}=${ANNOTATION_VALUE}"
    if ! kubectl_cp cordon "$NODE"; then
      local saved="$OUT"
      kubectl_cp annotate node "$NODE" "${ANNOTATION}-" || true
      OUT="$saved"
      fail "kubectl cordon $NODE failed"
    fi
    log "cordoned"
  fi
  log "draining before its VM update (up to $(timeout_words); PodDisruptionBudgets are honoured)"
  if ! kubectl_on "$CP" $((TIMEOUT + DRAIN_MARGIN)) drain "$NODE" --ignore-daemonsets --delete-emptydir-data "--timeout=${TIMEOUT}s"; then
    local after="it was cordoned before nixlab drained it, so it stays cordoned"
    if (( ours == 1 )); then
      release
      after="nixlab uncordoned it again"
    fi
    fail "kubectl drain $NODE did not finish within $(timeout_words) (nixlab:updates.drainTimeoutMinutes); $after and its VM was NOT updated. Fix what blocks the drain (a PodDisruptionBudget that allows no disruption, pods that do not stop) or raise nixlab:updates.drainTimeoutMinutes, then run 'pulumi up' again"
  fi
  if (( ours == 1 )); then
    log "drained"
    printf 'drained\n'
  else
    log "drained (left cordoned: it was cordoned before nixlab drained it)"
    printf 'drained-left-cordoned\n'
  fi
}

do_uncordon() {
  vm_state "$NODE_VMID"
  [[ "$VM_STATE" != absent ]] || { OUT=""; skip "VM $NODE_VMID does not exist: nothing to uncordon"; }
  pick_control_plane
  if ! read_node; then
    not_found && { OUT=""; skip "not in the cluster (no Node object): nothing to uncordon"; }
    fail "cannot read Node $NODE through VM $CP"
  fi
  if [[ "$NODE_ANNOTATION" != "$ANNOTATION_VALUE" ]]; then
    OUT=""
    skip "not cordoned by nixlab (no $ANNOTATION annotation): left as it is"
  fi
  log "waiting up to $(timeout_words) for the node to be Ready"
  local deadline=$((SECONDS + TIMEOUT)) last="Ready condition: ${READY:-none}${READY_WHY:+ ($READY_WHY)}"
  until [[ "$READY" == True ]]; do
    if (( SECONDS >= deadline )); then
      OUT="$last"
      fail "not Ready within $(timeout_words) after its VM update; it stays cordoned (annotation $ANNOTATION kept: running 'pulumi up' again retries this step). Check the kubelet on it: 'journalctl -u kubelet'"
    fi
    sleep "$POLL_SECONDS"
    if read_node; then
      last="Ready condition: ${READY:-none}${READY_WHY:+ ($READY_WHY)}"
    else
      READY=""
      last="$(first_line)"
    fi
  done
  kubectl_cp uncordon "$NODE" || fail "kubectl uncordon $NODE failed"
  kubectl_cp annotate node "$NODE" "${ANNOTATION}-" || fail "cannot remove the $ANNOTATION annotation from Node $NODE"
  log "uncordoned after its VM update"
  printf 'uncordoned\n'
}

main() {
  parse_args "$@"
  WORK="$(mktemp -d)"
  trap cleanup EXIT
  case "$MODE" in
    drain) do_drain ;;
    uncordon) do_uncordon ;;
  esac
}

main "$@"
