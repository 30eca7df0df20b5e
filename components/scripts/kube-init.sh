#!/usr/bin/env bash
# kube-init.sh — runs ON the first control-plane node, over SSH, as the
# (non-root) admin user; `sudo -n` for what needs root. Creates the cluster
# with `kubeadm init` (or finds it already created) and prints the CA
# certificate hash that joining nodes pin.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' kube-init <node> <version|-> <vipManifestBase64|-> <timeoutSeconds>
#       stdin: the kubeadm InitConfig YAML (components/kubeadm InitConfig: it
#              holds the bootstrap token and the certificate key)
#
#   node               the node's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$ (messages)
#   version            major.minor the cluster must run, or - for any
#   vipManifestBase64  the kube-vip static pod (base64), or - without a VIP
#   timeoutSeconds     positive integer: bound of `kubeadm init` and of every
#                      wait for the API server
#
# Steps, in this order (the phase name is the one in messages):
#   version   `kubeadm version -o short` must print vMAJOR.MINOR.PATCH with
#             major.minor = version (unless -); else refused, naming both and
#             the nixpkgs pin to change.
#   config    stdin must hold the placeholder NIXLAB_KUBEADM_VERSION exactly
#             once; it becomes the node's kubeadm version (kubeadm never looks
#             one up). The config goes to a root-only file (umask 077, in a
#             `sudo mktemp -d` directory under /run, removed on exit).
#   state     /etc/kubernetes/admin.conf present: wait (bounded) for the API
#             server through it. It answers and ConfigMap kube-public/
#             cluster-info exists (written by init's bootstrap-token phase,
#             after which only kubelet-finalize and addons run): the cluster
#             is made, nothing is re-initialised. It answers without
#             cluster-info: an init stopped part-way, before any node could
#             join: `kubeadm reset -f`, then init. It does not answer: refused
#             (a control plane that is down may hold a cluster; nothing is
#             reset), with the command to start over by hand.
#             admin.conf absent but /etc/kubernetes/pki/ca.crt present: an
#             init that failed before its kubeconfig phase: `kubeadm reset -f`
#             first.
#   kube-vip  (with a VIP, before init) the manifest goes to
#             /etc/kubernetes/manifests/kube-vip.yaml. On Kubernetes >= 1.29
#             its kubeconfig host path /etc/kubernetes/admin.conf is swapped
#             for /etc/kubernetes/super-admin.conf during init (admin.conf has
#             no rights until init binds it: kube-vip/kube-vip#684,
#             kubernetes/kubeadm#3274) and restored after it. Init's
#             preflight checks only that the four control-plane manifests do
#             not exist yet (FileAvailable; kubeadm v1.35.4
#             cmd/kubeadm/app/preflight/checks.go InitNodeChecks), so the
#             manifest may sit in /etc/kubernetes/manifests before init.
#   kubeadm init
#             `kubeadm init --upload-certs --config <file>`, bounded by
#             timeoutSeconds. Then the kube-vip manifest is restored and the
#             API server must answer through admin.conf (the VIP) again.
#   ca hash   sha256 of the DER SubjectPublicKeyInfo of /etc/kubernetes/pki/
#             ca.crt (kubeadm's discovery hash: cmd/kubeadm/app/util/pubkeypin
#             Hash), with openssl.
#
# stdout: exactly one line, `sha256:<64 hex>`.
# stderr: progress lines `[<node>] <phase>: <what>`; on failure
#   `[<node>] <phase>: failed: <why>` and the last 20 lines of the tool's
#   output, with bootstrap tokens and 64-hex strings redacted.
# Exit: 0 done; 1 failed; 2 invalid arguments (nothing is run then).
#
# Tools used: bash, sudo, kubeadm, kubectl, timeout, mktemp, tee, rm, test,
# cat, base64, sed, tail, openssl, sha256sum, sleep.
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
readonly SCRIPT_NAME="kube-init"
readonly PLACEHOLDER="NIXLAB_KUBEADM_VERSION"
readonly ADMIN_CONF="/etc/kubernetes/admin.conf"
readonly SUPER_ADMIN_CONF="/etc/kubernetes/super-admin.conf"

NODE="kube-init"
PHASE="arguments"
OUT=""
SECRET_DIR=""
SECRET_PATH=""
INPUT=""
KUBEADM_VERSION=""
KUBE_MINOR=""
WANT=""
VIP=""
TIMEOUT=""
MANIFEST=""

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <node> <version major.minor|-> <vipManifestBase64|-> <timeoutSeconds>  (stdin: kubeadm InitConfig)\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 4 )) || usage "expected 4 arguments, got $#"
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || usage "invalid node name '$1'"
  [[ "$2" == - || "$2" =~ ^[0-9]+\.[0-9]+$ ]] || usage "invalid version '$2': use major.minor (1.35) or -"
  [[ "$4" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$4': use a positive number of seconds"
  NODE="$1"
  WANT="$2"
  VIP="$3"
  TIMEOUT="$4"
  if [[ "$VIP" != - ]]; then
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

# super_admin_manifest prints MANIFEST with the kubeconfig host path swapped
# to super-admin.conf (the line `path: /etc/kubernetes/admin.conf`; the
# container's mountPath line is left alone).
super_admin_manifest() {
  local m="$MANIFEST"$'\n'
  m="${m//"path: $ADMIN_CONF"$'\n'/"path: $SUPER_ADMIN_CONF"$'\n'}"
  printf '%s' "${m%$'\n'}"
}

# cluster_made succeeds when the API answers and cluster-info exists;
# returns 2 when the API answers without it.
cluster_made() {
  run kubectl_admin -n kube-public get configmap cluster-info -o name && return 0
  [[ "$OUT" == *"(NotFound)"* ]] && return 2
  fail "cannot read ConfigMap kube-public/cluster-info"
}

init_cluster() {
  if sudo -n test -e "$KUBE_DIR/pki/ca.crt"; then
    PHASE="state"
    kubeadm_reset "an earlier kubeadm init stopped before writing admin.conf"
  fi
  if [[ "$VIP" != - ]]; then
    PHASE="kube-vip"
    if (( KUBE_MINOR >= 29 )); then
      log "writing the kube-vip manifest with $SUPER_ADMIN_CONF for the time of kubeadm init (kube-vip#684)"
      write_manifest "$(super_admin_manifest)"
    else
      log "writing the kube-vip manifest"
      write_manifest "$MANIFEST"
    fi
  fi
  PHASE="kubeadm init"
  log "running kubeadm init $KUBEADM_VERSION (up to $TIMEOUT s)"
  run sudo -n timeout --kill-after=30 "$TIMEOUT" kubeadm init --upload-certs --config "$SECRET_PATH" ||
    fail "kubeadm init failed"
  log "control plane initialised"
}

main() {
  parse_args "$@"
  PHASE="config"
  read_stdin "the kubeadm InitConfig"
  PHASE="version"
  check_version "$WANT"
  KUBE_MINOR="${KUBEADM_VERSION#v*.}"
  KUBE_MINOR="${KUBE_MINOR%%.*}"
  PHASE="config"
  local rest="${INPUT#*"$PLACEHOLDER"}"
  [[ "$rest" != "$INPUT" && "$rest" != *"$PLACEHOLDER"* ]] ||
    fail "the kubeadm config must contain $PLACEHOLDER exactly once (as kubernetesVersion)"
  secret_file config.yaml "${INPUT/"$PLACEHOLDER"/"$KUBEADM_VERSION"}"

  PHASE="state"
  local made=1
  if sudo -n test -e "$KUBE_DIR/admin.conf"; then
    log "admin.conf exists: waiting for the API server"
    wait_until "$TIMEOUT" api_ready ||
      fail "admin.conf exists but the API server did not answer within $TIMEOUT s: a kubeadm init that failed part-way, or a control plane that is down. Nothing is reset automatically; to start over run 'sudo kubeadm reset -f' on $NODE (this destroys the cluster) and re-run"
    made=0
    cluster_made || made=$?
    if (( made == 0 )); then
      log "the cluster is already initialised; nothing to do"
    else
      kubeadm_reset "kubeadm init stopped before its bootstrap-token phase (no cluster-info)"
    fi
  fi
  if (( made != 0 )); then
    init_cluster
  fi
  if [[ "$VIP" != - ]]; then
    PHASE="kube-vip"
    write_manifest "$MANIFEST"
    log "kube-vip manifest uses $ADMIN_CONF"
  fi
  PHASE="api"
  log "waiting for the API server"
  wait_until "$TIMEOUT" api_ready ||
    fail "the API server did not answer through $KUBE_DIR/admin.conf (the control-plane endpoint) within $TIMEOUT s"
  PHASE="ca hash"
  local hash
  hash="$(sudo -n cat "$KUBE_DIR/pki/ca.crt" | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum)" ||
    fail "cannot compute the CA certificate hash of $KUBE_DIR/pki/ca.crt"
  hash="${hash%% *}"
  [[ "$hash" =~ ^[0-9a-f]{64}$ ]] || fail "sha256sum printed '$hash'"
  printf 'sha256:%s\n' "$hash"
}

main "$@"
