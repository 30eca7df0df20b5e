#!/usr/bin/env bash
# kube-join.sh — runs ON a joining node (control plane or worker), over SSH,
# as the (non-root) admin user; `sudo -n` for what needs root. Joins the node
# with `kubeadm join`, or finds it joined already.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-join <node> <control-plane|worker> <version|-> <vipManifestBase64|-> <timeoutSeconds>
#       stdin: the kubeadm JoinConfig YAML (components/kubeadm JoinConfig: it
#              holds the bootstrap token and, for a control plane, the
#              certificate key)
#
#   node               the node's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$ (the Node
#                      object's name: nodeRegistration.name)
#   role               control-plane or worker
#   version            major.minor the cluster runs, or - for any
#   vipManifestBase64  the kube-vip static pod (base64) for a control plane
#                      when the endpoint is a VIP, else -
#   timeoutSeconds     positive integer: bound of `kubeadm join` and of the
#                      wait for the API server's answer about this node
#
# Steps, in this order (the phase name is the one in messages):
#   version   `kubeadm version -o short` must have major.minor = version
#             (unless -); else refused, naming both and the nixpkgs pin.
#   config    stdin goes to a root-only file (umask 077, in a `sudo mktemp -d`
#             directory under /run, removed on exit).
#   state     the rule for re-runs, from the node's own files:
#             - /etc/kubernetes/kubelet.conf present: ask the API server (with
#               the kubelet's credentials, bounded by timeoutSeconds) for this
#               Node. Found (and, for a control plane, labelled
#               node-role.kubernetes.io/control-plane, which join's last
#               phase sets): joined, nothing to do. Not found, or a control
#               plane without the label: a join that failed part-way:
#               `kubeadm reset -f`, then join. No answer: refused (nothing is
#               reset on a node that may be fine).
#             - kubelet.conf absent but /etc/kubernetes/pki/ca.crt or
#               bootstrap-kubelet.conf present (left by a failed join; join's
#               preflight refuses them): `kubeadm reset -f`, then join.
#             - otherwise: join.
#   kubeadm join
#             `kubeadm join --config <file>`, bounded by timeoutSeconds.
#   kube-vip  (control plane with a VIP) AFTER the join: the VIP is already
#             held by the control planes in the cluster, and this node's
#             kube-vip talks to the local API server (the manifest maps
#             `kubernetes` to 127.0.0.1), which exists only once the join
#             wrote the control-plane manifests. (Join's preflight would not
#             mind the file: kubeadm v1.35.4 cmd/kubeadm/app/preflight/
#             checks.go JoinNodeChecks has no check of the manifests
#             directory.) The manifest mounts admin.conf (written by a
#             control-plane join); it is rewritten only when it differs.
#
# stdout: nothing.
# stderr: progress lines `[<node>] <phase>: <what>`; on failure
#   `[<node>] <phase>: failed: <why>` and the last 20 lines of the tool's
#   output, with bootstrap tokens and 64-hex strings redacted.
# Exit: 0 done; 1 failed; 2 invalid arguments (nothing is run then).
#
# Tools used: bash, sudo, kubeadm, kubectl, timeout, mktemp, tee, rm, test,
# cat, mkdir, base64, sed, tail, sleep.
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
readonly SCRIPT_NAME="kube-join"
readonly ADMIN_CONF="/etc/kubernetes/admin.conf"
readonly CP_LABEL="node-role.kubernetes.io/control-plane"

NODE="kube-join"
PHASE="arguments"
OUT=""
SECRET_DIR=""
SECRET_PATH=""
INPUT=""
KUBEADM_VERSION=""
ROLE=""
WANT=""
VIP=""
TIMEOUT=""
MANIFEST=""
STATE=""

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <node> <control-plane|worker> <version major.minor|-> <vipManifestBase64|-> <timeoutSeconds>  (stdin: kubeadm JoinConfig)\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 5 )) || usage "expected 5 arguments, got $#"
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || usage "invalid node name '$1'"
  [[ "$2" == control-plane || "$2" == worker ]] || usage "invalid role '$2': use control-plane or worker"
  [[ "$3" == - || "$3" =~ ^[0-9]+\.[0-9]+$ ]] || usage "invalid version '$3': use major.minor (1.35) or -"
  [[ "$5" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$5': use a positive number of seconds"
  NODE="$1"
  ROLE="$2"
  WANT="$3"
  VIP="$4"
  TIMEOUT="$5"
  if [[ "$VIP" != - ]]; then
    [[ "$ROLE" == control-plane ]] || usage "a kube-vip manifest is for control planes only"
    MANIFEST="$(printf '%s' "$VIP" | base64 -d 2>/dev/null)" || usage "the kube-vip manifest is not valid base64"
    [[ "$MANIFEST" == *"path: $ADMIN_CONF"* ]] ||
      usage "the kube-vip manifest does not mount $ADMIN_CONF (no 'path: $ADMIN_CONF' line)"
  fi
}

# Shared helpers (log, fail, run, wait_until, secret_file, ...) are in
# kube-common.sh beside this file; components.scriptCommand inlines it here
# when the script is sent as `bash -c`.
# shellcheck source-path=SCRIPTDIR source=kube-common.sh
source "${BASH_SOURCE[0]%/*}/kube-common.sh"

# node_state sets STATE from the API server's answer about this node, asked
# with the kubelet's credentials (a node may get its own Node, also before it
# exists: plugin/pkg/auth/authorizer/node/node_authorizer.go authorizeNode):
# joined, half (not found, or a control plane without its label); returns 1
# when the API server does not answer.
node_state() {
  if run sudo -n kubectl --kubeconfig "$KUBE_DIR/kubelet.conf" --request-timeout=30s get node "$NODE" -o 'jsonpath={.metadata.name} {.metadata.labels}'; then
    STATE="joined"
    if [[ "$ROLE" == control-plane && "$OUT" != *"\"$CP_LABEL\""* ]]; then
      STATE="half"
    fi
    return 0
  fi
  if [[ "$OUT" == *"(NotFound)"* ]]; then
    STATE="half"
    return 0
  fi
  return 1
}

main() {
  parse_args "$@"
  PHASE="config"
  read_stdin "the kubeadm JoinConfig"
  PHASE="version"
  check_version "$WANT"
  PHASE="config"
  secret_file config.yaml "$INPUT"

  PHASE="state"
  STATE="new"
  if sudo -n test -e "$KUBE_DIR/kubelet.conf"; then
    wait_until "$TIMEOUT" node_state ||
      fail "kubelet.conf exists but the API server did not answer about node $NODE within $TIMEOUT s, so it cannot tell whether the node is joined; nothing is reset (check the control-plane endpoint and kube-vip)"
    if [[ "$STATE" == half ]]; then
      kubeadm_reset "the node has kubelet.conf but is not registered as a $ROLE (an earlier join failed part-way)"
    fi
  elif sudo -n test -e "$KUBE_DIR/pki/ca.crt" || sudo -n test -e "$KUBE_DIR/bootstrap-kubelet.conf"; then
    kubeadm_reset "an earlier kubeadm join failed before the kubelet registered"
  fi
  if [[ "$STATE" == joined ]]; then
    log "already joined as a $ROLE; nothing to do"
  else
    PHASE="kubeadm join"
    log "running kubeadm join as a $ROLE (up to $TIMEOUT s)"
    run sudo -n timeout --kill-after=30 "$TIMEOUT" kubeadm join --config "$SECRET_PATH" ||
      fail "kubeadm join failed"
    log "joined as a $ROLE"
  fi
  if [[ "$VIP" != - ]]; then
    PHASE="kube-vip"
    write_manifest "$MANIFEST"
    log "kube-vip manifest in place"
  fi
}

main "$@"
