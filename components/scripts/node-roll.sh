#!/usr/bin/env bash
# node-roll.sh — rolls ONE node to a new NixOS system. Runs as a Pulumi
# command:local:Command on the machine that runs `pulumi up` (it built the node
# system, and has nix and ssh). The coordinator chains one such step per node:
# control planes first, one at a time, then workers.
#
# Usage: bash -c '<this script>' node-roll      (no arguments: see Environment)
#   stdin: the stack's SSH private key (OpenSSH PEM). It is a secret: it is
#          written to a mode-600 file in a private temporary directory (removed
#          on exit), never printed and never put on a command line.
#
# Environment (every value is checked; a bad one is named and nothing runs):
#   NIXLAB_NODE            node name = hostname = Kubernetes Node name
#   NIXLAB_NODE_HOST       address ssh connects to; NIXLAB_NODE_USER the login
#                          user (passwordless `sudo -n`, trusted by the node's nix)
#   NIXLAB_ADMIN_USER      the admin user the new system declares (nixlab:adminUser);
#                          a node that logs in as another user is refused
#   NIXLAB_ROLE            control-plane | worker
#   NIXLAB_UPGRADE_ROLE    first | other: first is the control plane that runs
#                          `kubeadm upgrade apply` on a Kubernetes upgrade
#   NIXLAB_SYSTEM          target: /nix/store/<hash>-nixos-system-*, built here
#   NIXLAB_KUBERNETES      yes | no (no: no kubectl, no drain, no kubeadm)
#   NIXLAB_KUBE_HOSTS      space-separated user@address of the control planes, in
#                          roll order; kubectl runs on the first that answers and
#                          is not this node (this node when it is the only one)
#   NIXLAB_KUBE_VERSION    1.<minor> or - (nixlab:kubernetes.version)
#   NIXLAB_DRAIN_TIMEOUT   seconds `kubectl drain` may take
#   NIXLAB_HEALTH_TIMEOUT  seconds the health gate (and a reboot) may take
#   NIXLAB_ROLLBACK        yes | no: switch back to the previous system when the
#                          health gate fails
#   NIXLAB_READY_SCRIPT    text of node-ready.sh, run on the node as
#                          `bash -s -- <NIXLAB_READY_ARGS>` (text on stdin)
#   NIXLAB_READY_ARGS      its 4 arguments, space-separated
#   NIXLAB_POLL_SECONDS    poll interval of every wait (default 5)
#
# Steps, in this order:
#   state     over ssh: current = /run/current-system, booted =
#             /run/booted-system. The node is ON TARGET when current is
#             NIXLAB_SYSTEM and no reboot is pending (see reboot rule).
#   versions  (Kubernetes) BEFORE anything changes: the target's Kubernetes
#             version is `<NIXLAB_SYSTEM>/sw/bin/kubeadm version -o short` run
#             here (cmd/kubeadm/app/cmd/version.go RunVersion, "short"); the
#             cluster's is kubernetesVersion of the kubeadm-config ConfigMap
#             (the version `kubeadm upgrade apply` records in its uploadconfig
#             phase and `kubeadm upgrade node` installs: v1.35.4
#             cmd/kubeadm/app/cmd/phases/upgrade/apply/uploadconfig.go,
#             cmd/upgrade/node.go FetchInitConfigurationFromCluster; the API
#             server's /version is not used, as behind the VIP it may answer from
#             a control plane that is not upgraded yet); the node's is its
#             kubelet's (.status.nodeInfo.kubeletVersion). Refused, with both
#             versions named: a target minor other than NIXLAB_KUBE_VERSION; a
#             downgrade (target < cluster, or target < the node's kubelet); a
#             skipped minor (target > cluster + 1); and, on any node but the
#             first control plane, target > cluster (the first control plane has
#             not upgraded the cluster yet: no node runs ahead of it).
#   skip      on target: `[<node>] already on <path>, skipped`. Except a pending
#             kubeadm upgrade (on the system, but not upgraded: drain, upgrade,
#             gate, uncordon), and a resume:
#             when nixlab cordoned the node (annotation nixlab.io/roll) in an
#             earlier, interrupted run, the health gate runs and the node is
#             uncordoned.
#   copy      `nix copy --no-check-sigs --to ssh-ng://<user>@<host>?remote-program=sudo -n
#             nix-daemon <system>` (the closure, received as root on the node:
#             a trusted client of its store, which accepts unsigned paths
#             when the client does not ask for signature checks).
#   drain     (Kubernetes) annotate nixlab.io/roll=<target basename>, cordon,
#             `kubectl drain --ignore-daemonsets --delete-emptydir-data
#             --timeout=<N>s` (evictions honour PodDisruptionBudgets; flags of
#             k8s.io/kubectl v0.35.4 pkg/cmd/drain/drain.go NewCmdDrain, retry
#             until the timeout: pkg/drain/drain.go evictPods). On failure the
#             node is uncordoned again (nothing on it changed) and the step
#             fails. A node that was cordoned before the roll (without nixlab's
#             annotation) is drained but never uncordoned.
#   upgrade   (Kubernetes, a newer minor or patch) with the NEW kubeadm from
#             the copied system, before its kubelet is switched (kubeadm's
#             documented order): the first control plane `kubeadm upgrade
#             apply -y v<X.Y.Z>` when the target is newer than the cluster,
#             any node `kubeadm upgrade node` when it is newer than its
#             kubelet (v1.35.4 cmd/kubeadm/app/cmd/upgrade/apply.go
#             newCmdApply: --yes/-y; node.go newCmdNode: no arguments).
#   activate  `nix-env -p /nix/var/nix/profiles/system --set <system>`, then
#             switch-to-configuration, run through systemd-run like
#             nixos-rebuild does (so an activation that restarts sshd or the
#             network does not kill it: nixpkgs nixos-rebuild-ng nix.py
#             SWITCH_TO_CONFIGURATION_CMD_PREFIX): `switch`, or, when a reboot
#             is needed, `boot`, `systemctl reboot` (the ssh connection dropping
#             is expected) and a wait, bounded by NIXLAB_HEALTH_TIMEOUT, until
#             /run/booted-system is the new system.
#   gate      polled until NIXLAB_HEALTH_TIMEOUT: node-ready.sh passes; and with
#             Kubernetes `systemctl is-active kubelet` is active, the Node's
#             Ready condition is True and, on a control plane, the mirror pods
#             kube-apiserver-<node> and etcd-<node> are Ready (kubeadm gives them
#             readiness probes on /readyz: v1.35.4
#             cmd/kubeadm/app/phases/controlplane/manifests.go
#             GetStaticPodSpecs, phases/etcd/local.go GetEtcdPodSpec).
#   uncordon  `kubectl uncordon`, then the annotation is removed.
# A failed activation or gate with NIXLAB_ROLLBACK=yes: the profile is set back
# to the previous system (current before the switch), activated by the same
# rule, gated again and, when healthy, uncordoned; the step fails anyway (the
# roll stops). A kubeadm upgrade that already ran is not undone.
#
# Reboot rule: a reboot is needed when the booted system's kernel, initrd,
# kernel-modules or systemd (links in every NixOS system: nixpkgs
# nixos/modules/system/activation/top-level.nix; the same comparison as
# nixos/modules/tasks/auto-upgrade.nix allowReboot, plus systemd, which is PID 1)
# resolve (readlink -f) to other store paths than the new system's.
#
# ssh: -i <key file> -o IdentitiesOnly=yes -o BatchMode=yes
#   -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=<temporary file>:
#   the nodes' host keys are NOT pinned yet, so the first connection of each run
#   accepts whatever key the node presents (trust on first use, per run). nix
#   copy gets the same options through NIX_SSHOPTS (split on whitespace: the
#   temporary directory must have none).
#
# stdout: one line at the end, the store path the node runs after the step
#   (the previous system after a rollback, which still exits 1).
# stderr: progress lines `[<node>] <what>`; failures `[<node>] <why>`.
# Exit: 0 rolled (or already on target); 1 refused or failed; 2 bad environment.
#
# Tools used here: bash, ssh, nix, mktemp, rm, cat, grep, sed, tr, tail, sleep. On the
# node: readlink, nix-env, systemd-run, systemctl, sudo, timeout, kubectl,
# kubeadm (from the new system).
#
# For tests only: NIXLAB_ROOT prefixes the node-side paths (evaluated by the
# node's shell, where a fake ssh sets it) and, here, the local store path.
set -euo pipefail
umask 077

readonly SCRIPT_NAME="node-roll"
readonly ANNOTATION="nixlab.io/roll"
readonly PROFILE="/nix/var/nix/profiles/system"
readonly ADMIN_CONF="/etc/kubernetes/admin.conf"
# Nix store paths: 32 characters of nix's base32 (no e, o, u, t).
readonly SYSTEM_RE='^/nix/store/[0-9a-df-np-sv-z]{32}-nixos-system-[A-Za-z0-9._+-]+$'
readonly NAME_RE='^[A-Za-z0-9][A-Za-z0-9.-]*$'
readonly HOST_RE='^[A-Za-z0-9._:%-]+$'
readonly USER_RE='^[a-z_][a-z0-9_-]*$'
# How many health checks in a row, a poll interval apart, a node must pass
# (gate): 13 spans a minute with the default 5 s poll, longer than the 50 s
# a Node's Ready condition outlives a kubelet that stopped posting
# (NodeMonitorGracePeriod, v1.35.4 pkg/controller/nodelifecycle/config/
# v1alpha1/defaults.go).
readonly GATE_PASSES=13
# Longest check output quoted in a message, in characters.
readonly MAX_OUTPUT=1500
# What every command sent to a node starts with: NixOS's PATH (a
# non-interactive ssh session may not have it) and the test root.
# shellcheck disable=SC2016 # expanded by the node's shell
readonly REMOTE_ENV='export PATH="/run/wrappers/bin:/run/current-system/sw/bin:$PATH"; NR="${NIXLAB_ROOT:-}"; '
readonly LOCAL_ROOT="${NIXLAB_ROOT:-}"

NODE="$SCRIPT_NAME"
NODE_DEST=""
ADMIN_USER=""
ROLE=""
UPGRADE_ROLE=""
SYSTEM=""
KUBE=""
KUBE_VERSION=""
DRAIN_TIMEOUT=""
HEALTH_TIMEOUT=""
ROLLBACK=""
READY_SCRIPT=""
POLL_SECONDS=""
KUBE_HOSTS=()
READY_ARGS=()

TMP_DIR=""
ERR_FILE=""
SSH_OPTS=()
OUT=""
ERR=""
KUBE_DEST=""
CURRENT=""
BOOTED=""
# The node's Kubernetes state before the roll.
KUBELET_VERSION=""
CORDONED=""
MARK=""
# 1 when this roll (or an earlier, interrupted one) cordoned the node.
OURS=0
TARGET_VERSION=""
TARGET_MINOR=""
# The cluster's version: kubeadm-config's kubernetesVersion.
CLUSTER_VERSION=""
# Set by the activation and the gate: the check that failed and its output.
CHECK=""
CHECK_OUT=""
CHANGED=""
# What kubeadm upgrade ran (it is not undone by a rollback).
UPGRADED=""

log() {
  printf '[%s] %s\n' "$NODE" "$*" >&2
}

# die MESSAGE prints `[<node>] MESSAGE` and exits 1.
die() {
  log "$*"
  exit 1
}

bad_env() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 2
}

# need VAR REGEX HINT checks that variable VAR matches REGEX.
need() {
  local name="$1" re="$2" hint="$3" value="${!1:-}"
  [[ -n "$value" ]] || bad_env "$name is not set: $hint"
  [[ "$value" =~ $re ]] || bad_env "invalid $name '$value': $hint"
}

validate_env() {
  local h
  need NIXLAB_NODE "$NAME_RE" "use letters, digits, dots and dashes, starting with a letter or digit"
  NODE="$NIXLAB_NODE"
  need NIXLAB_NODE_HOST "$HOST_RE" "use a host name or IP address"
  [[ "$NIXLAB_NODE_HOST" != -* ]] || bad_env "invalid NIXLAB_NODE_HOST '$NIXLAB_NODE_HOST': use a host name or IP address"
  need NIXLAB_NODE_USER "$USER_RE" "use a login name (lower-case letters, digits, _ and -)"
  NODE_DEST="$NIXLAB_NODE_USER@$NIXLAB_NODE_HOST"
  need NIXLAB_ADMIN_USER "$USER_RE" "use the admin user the new system declares (nixlab:adminUser)"
  ADMIN_USER="$NIXLAB_ADMIN_USER"
  need NIXLAB_ROLE '^(control-plane|worker)$' "use control-plane or worker"
  ROLE="$NIXLAB_ROLE"
  need NIXLAB_SYSTEM "$SYSTEM_RE" "use the node system's store path, /nix/store/<hash>-nixos-system-<name>"
  SYSTEM="$NIXLAB_SYSTEM"
  [[ -d "$LOCAL_ROOT$SYSTEM" ]] ||
    bad_env "NIXLAB_SYSTEM $SYSTEM does not exist on this machine: build the node system first"
  need NIXLAB_KUBERNETES '^(yes|no)$' "use yes or no"
  KUBE="$NIXLAB_KUBERNETES"
  if [[ "$KUBE" == yes || -n "${NIXLAB_UPGRADE_ROLE:-}" ]]; then
    need NIXLAB_UPGRADE_ROLE '^(first|other)$' "use first (the control plane that runs 'kubeadm upgrade apply') or other"
    UPGRADE_ROLE="$NIXLAB_UPGRADE_ROLE"
    [[ "$UPGRADE_ROLE" == other || "$ROLE" == control-plane ]] ||
      bad_env "invalid NIXLAB_UPGRADE_ROLE 'first' for a worker: only a control plane runs 'kubeadm upgrade apply'"
  fi
  if [[ "$KUBE" == yes || -n "${NIXLAB_KUBE_HOSTS:-}" ]]; then
    need NIXLAB_KUBE_HOSTS '[^[:space:]]' "list the control planes as user@address, space-separated"
    read -r -a KUBE_HOSTS <<<"$NIXLAB_KUBE_HOSTS"
    for h in "${KUBE_HOSTS[@]}"; do
      [[ "$h" =~ ^[a-z_][a-z0-9_-]*@[A-Za-z0-9][A-Za-z0-9._:%-]*$ ]] ||
        bad_env "invalid NIXLAB_KUBE_HOSTS entry '$h': use user@address"
    done
  fi
  if [[ "$KUBE" == yes || -n "${NIXLAB_KUBE_VERSION:-}" ]]; then
    need NIXLAB_KUBE_VERSION '^(1\.(0|[1-9][0-9]?)|-)$' "use 1.<minor> (nixlab:kubernetes.version) or -"
    KUBE_VERSION="$NIXLAB_KUBE_VERSION"
  fi
  if [[ "$KUBE" == yes || -n "${NIXLAB_DRAIN_TIMEOUT:-}" ]]; then
    need NIXLAB_DRAIN_TIMEOUT '^[1-9][0-9]{0,6}$' "use a positive number of seconds"
    DRAIN_TIMEOUT="$NIXLAB_DRAIN_TIMEOUT"
  fi
  need NIXLAB_HEALTH_TIMEOUT '^[1-9][0-9]{0,6}$' "use a positive number of seconds"
  HEALTH_TIMEOUT="$NIXLAB_HEALTH_TIMEOUT"
  need NIXLAB_ROLLBACK '^(yes|no)$' "use yes or no"
  ROLLBACK="$NIXLAB_ROLLBACK"
  need NIXLAB_READY_SCRIPT '[^[:space:]]' "pass the text of node-ready.sh"
  READY_SCRIPT="$NIXLAB_READY_SCRIPT"
  need NIXLAB_READY_ARGS '^[^[:space:]]+( [^[:space:]]+){3}$' "pass node-ready.sh's 4 arguments, space-separated"
  read -r -a READY_ARGS <<<"$NIXLAB_READY_ARGS"
  POLL_SECONDS="${NIXLAB_POLL_SECONDS:-5}"
  [[ "$POLL_SECONDS" =~ ^[0-9]{1,4}(\.[0-9]{1,3})?$ ]] ||
    bad_env "invalid NIXLAB_POLL_SECONDS '$POLL_SECONDS': use a number of seconds"
  command -v ssh >/dev/null 2>&1 || bad_env "ssh is not installed (the OpenSSH client is needed to reach the node)"
  command -v nix >/dev/null 2>&1 || bad_env "nix is not installed (it copies the node system to the node)"
}

cleanup() {
  if [[ -n "$TMP_DIR" ]]; then
    rm -rf -- "$TMP_DIR"
  fi
}

# setup_ssh reads the private key from stdin into a private temporary
# directory and sets SSH_OPTS and NIX_SSHOPTS.
setup_ssh() {
  local key known
  TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/nixlab-roll.XXXXXX")" ||
    die "cannot create a temporary directory under ${TMPDIR:-/tmp}"
  trap cleanup EXIT
  [[ ! "$TMP_DIR" =~ [[:space:]] ]] ||
    die "the temporary directory $TMP_DIR contains whitespace, which NIX_SSHOPTS cannot carry: set TMPDIR to a path without"
  key="$TMP_DIR/key"
  known="$TMP_DIR/known_hosts"
  ERR_FILE="$TMP_DIR/stderr"
  cat >"$key"
  grep -q -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$key" ||
    bad_env "no SSH private key on stdin (the stack's key, OpenSSH PEM, is expected)"
  : >"$known"
  SSH_OPTS=(-i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10
    -o StrictHostKeyChecking=accept-new -o "UserKnownHostsFile=$known" -o LogLevel=ERROR
    -o ServerAliveInterval=15 -o ServerAliveCountMax=4)
  export NIX_SSHOPTS="${SSH_OPTS[*]}"
}

# remote DEST COMMAND [STDIN] runs COMMAND with the node's shell on DEST
# (user@address): stdout in OUT, stderr in ERR, the exit status returned.
# COMMAND is built here on purpose (values quoted with quote); what must
# expand on the node is escaped in it.
# shellcheck disable=SC2029
remote() {
  local dest="$1" cmd="$2" rc=0
  if (( $# > 2 )); then
    OUT="$(ssh "${SSH_OPTS[@]}" "$dest" "$REMOTE_ENV$cmd" <<<"$3" 2>"$ERR_FILE")" || rc=$?
  else
    OUT="$(ssh "${SSH_OPTS[@]}" "$dest" "$REMOTE_ENV$cmd" </dev/null 2>"$ERR_FILE")" || rc=$?
  fi
  ERR="$(<"$ERR_FILE")"
  return "$rc"
}

# quote ARGS... prints the arguments quoted as one line for the node's shell.
quote() {
  local q
  printf -v q '%q ' "$@"
  printf '%s\n' "${q% }"
}

# kube ARGS... runs kubectl as root with admin.conf on KUBE_DEST.
kube() {
  remote "$KUBE_DEST" "sudo -n kubectl --kubeconfig $ADMIN_CONF --request-timeout=30s $(quote "$@")"
}

# output prints OUT and ERR on one line (at most MAX_OUTPUT characters, the end).
output() {
  local s="${OUT}${OUT:+${ERR:+ }}${ERR}"
  s="${s//$'\r'/}"
  s="${s//$'\n'/ | }"
  if (( ${#s} > MAX_OUTPUT )); then
    s="...${s: -MAX_OUTPUT}"
  fi
  printf '%s\n' "${s:-no output}"
}

# last_lines prints the last 10 lines of OUT and ERR, one line.
last_lines() {
  local s
  s="$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -v '^[[:space:]]*$' | tail -n 10)" || true
  OUT="$s"
  ERR=""
  output
}

minutes() {
  local s="$1"
  if (( s == 60 )); then
    printf '1 minute\n'
  elif (( s % 60 == 0 )); then
    printf '%d minutes\n' $((s / 60))
  else
    printf '%d.%d minutes\n' $((s / 60)) $(((s % 60) * 10 / 60))
  fi
}

# read_links sets CURRENT and BOOTED from the node.
read_links() {
  # shellcheck disable=SC2016 # expanded by the node's shell
  remote "$NODE_DEST" 'for l in current-system booted-system; do p="$(readlink -f "$NR/run/$l")" || p=""; printf "%s\n" "${p#"$NR"}"; done' ||
    die "cannot read /run/current-system on $NODE_DEST over ssh: $(output)"
  CURRENT="$(sed -n 1p <<<"$OUT")"
  BOOTED="$(sed -n 2p <<<"$OUT")"
  [[ "$BOOTED" =~ ^/nix/store/ ]] ||
    die "/run/booted-system on $NODE_DEST is '${BOOTED}', not a store path: is it a NixOS node?"
  [[ "$CURRENT" =~ ^/nix/store/ ]] ||
    die "/run/current-system on $NODE_DEST is '${CURRENT}', not a store path: is it a NixOS node?"
}

# changed_parts PATH sets CHANGED to the parts (kernel initrd kernel-modules
# systemd) of the store path PATH on the node that differ from the booted
# system's: empty when no reboot is needed.
changed_parts() {
  # shellcheck disable=SC2016 # expanded by the node's shell
  remote "$NODE_DEST" "P=$(quote "$1"); "'[ -d "$NR$P" ] || { echo "$P is not on the node" >&2; exit 1; }; for c in kernel initrd kernel-modules systemd; do b="$(readlink -f "$NR/run/booted-system/$c")"; t="$(readlink -f "$NR$P/$c")"; [ "$b" = "$t" ] || printf "%s\n" "$c"; done' ||
    return 1
  CHANGED="$(printf '%s' "$OUT" | tr '\n' ' ')"
  CHANGED="${CHANGED% }"
  CHANGED="${CHANGED// /, }"
}

# pick_kube_host sets KUBE_DEST: the first control plane in NIXLAB_KUBE_HOSTS
# that is not this node and answers; this node itself when it is a control
# plane and no other answers.
pick_kube_host() {
  local h tried=()
  for h in "${KUBE_HOSTS[@]}"; do
    [[ "${h#*@}" != "$NIXLAB_NODE_HOST" ]] || continue
    KUBE_DEST="$h"
    if kube get --raw=/readyz; then
      return 0
    fi
    tried+=("$h: $(output)")
  done
  if [[ "$ROLE" == control-plane ]]; then
    KUBE_DEST="$NODE_DEST"
    if kube get --raw=/readyz; then
      return 0
    fi
    tried+=("$NODE_DEST: $(output)")
  fi
  die "no control plane answers kubectl (tried ${tried[*]:-nothing: NIXLAB_KUBE_HOSTS lists only this worker}); nothing was changed"
}

# read_node sets KUBELET_VERSION, CORDONED (true/empty) and MARK (nixlab's annotation).
read_node() {
  kube get node "$NODE" -o 'jsonpath={.status.nodeInfo.kubeletVersion}{"|"}{.spec.unschedulable}{"|"}{.metadata.annotations.nixlab\.io/roll}' ||
    die "cannot read Node $NODE: $(output); nothing was changed"
  IFS='|' read -r KUBELET_VERSION CORDONED MARK <<<"$OUT"
}

# newer A B succeeds when version A (v1.<minor>.<patch>[...]) is newer than B
# by minor or patch (pre-release suffixes are not compared).
newer() {
  local a b
  [[ "$1" =~ ^v?1\.([0-9]+)\.([0-9]+) ]] || return 1
  a=$((BASH_REMATCH[1] * 100000 + BASH_REMATCH[2]))
  [[ "$2" =~ ^v?1\.([0-9]+)\.([0-9]+) ]] || return 1
  b=$((BASH_REMATCH[1] * 100000 + BASH_REMATCH[2]))
  (( a > b ))
}

# minor_of VERSION prints the minor of v1.<minor>.<patch>[...], or fails.
minor_of() {
  [[ "$1" =~ ^v?1\.([0-9]+)\.[0-9]+ ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

check_versions() {
  local kubeadm="$LOCAL_ROOT$SYSTEM/sw/bin/kubeadm" cfg cluster cluster_minor kubelet_minor
  [[ -x "$kubeadm" ]] ||
    die "the target system $SYSTEM has no sw/bin/kubeadm: is pkgs.kubernetes in the node image? Nothing was changed"
  TARGET_VERSION="$("$kubeadm" version -o short 2>&1)" ||
    die "'$kubeadm version -o short' failed: $TARGET_VERSION"
  TARGET_VERSION="${TARGET_VERSION%%$'\n'*}"
  TARGET_MINOR="$(minor_of "$TARGET_VERSION")" ||
    die "'kubeadm version -o short' of $SYSTEM printed '$TARGET_VERSION', not v1.<minor>.<patch>"
  if [[ "$KUBE_VERSION" != - && "1.$TARGET_MINOR" != "$KUBE_VERSION" ]]; then
    die "refused: the target system carries Kubernetes $TARGET_VERSION but nixlab:kubernetes.version is $KUBE_VERSION; change the nixpkgs pin in nixos/flake.nix or nixlab:kubernetes.version so that they agree. Nothing was changed"
  fi
  kube -n kube-system get configmap kubeadm-config -o 'jsonpath={.data.ClusterConfiguration}' ||
    die "cannot read the cluster's version (ConfigMap kube-system/kubeadm-config): $(output); nothing was changed"
  cfg="$OUT"
  [[ "$cfg" =~ kubernetesVersion:[[:space:]]*\"?(v[0-9]+\.[0-9]+\.[0-9]+[^[:space:]\"]*) ]] ||
    die "the kubeadm-config ConfigMap has no kubernetesVersion; nothing was changed"
  cluster="${BASH_REMATCH[1]}"
  CLUSTER_VERSION="$cluster"
  cluster_minor="$(minor_of "$cluster")" || die "unexpected cluster version '$cluster'"
  kubelet_minor="$(minor_of "$KUBELET_VERSION")" ||
    die "unexpected kubelet version '$KUBELET_VERSION' of Node $NODE; nothing was changed"
  if (( TARGET_MINOR < cluster_minor )) || newer "$cluster" "$TARGET_VERSION"; then
    die "refused: the cluster runs $cluster but the target system carries $TARGET_VERSION: kubeadm cannot downgrade a cluster. Nothing was changed"
  fi
  if (( TARGET_MINOR < kubelet_minor )) || newer "$KUBELET_VERSION" "$TARGET_VERSION"; then
    die "refused: $NODE's kubelet is $KUBELET_VERSION but the target system carries $TARGET_VERSION: a downgrade. Nothing was changed"
  fi
  if (( TARGET_MINOR > cluster_minor + 1 )); then
    die "refused: the cluster runs $cluster and the target system carries $TARGET_VERSION: kubeadm upgrades one minor version at a time (to 1.$((cluster_minor + 1)) first). Nothing was changed"
  fi
}

# not_ahead refuses a node other than the first control plane a system newer
# than the cluster: no node runs ahead of the control plane.
not_ahead() {
  if [[ "$UPGRADE_ROLE" == other ]] && newer "$TARGET_VERSION" "$CLUSTER_VERSION"; then
    die "refused: the target system carries $TARGET_VERSION but the cluster is still at $CLUSTER_VERSION: the first control plane must run 'kubeadm upgrade apply' first (no node runs ahead of the control plane). Nothing was changed"
  fi
}

# pending_upgrade prints the kubeadm upgrade this node still needs: apply
# (the first control plane, target newer than the cluster), node (another
# node whose kubelet is older than the target while the cluster is there
# already), or nothing.
pending_upgrade() {
  [[ "$KUBE" == yes ]] || return 0
  if [[ "$UPGRADE_ROLE" == first ]] && newer "$TARGET_VERSION" "$CLUSTER_VERSION"; then
    printf 'apply\n'
  elif newer "$TARGET_VERSION" "$KUBELET_VERSION" && ! newer "$TARGET_VERSION" "$CLUSTER_VERSION"; then
    printf 'node\n'
  fi
}

# run_upgrade KIND runs kubeadm upgrade KIND (apply|node) and records it.
run_upgrade() {
  upgrade_kubernetes "$1"
  UPGRADED="kubeadm upgrade $1"
}

# gate_once runs every health check once; on a failure sets CHECK and CHECK_OUT.
gate_once() {
  local pod
  local args
  args="$(quote "${READY_ARGS[@]}")"
  if ! remote "$NODE_DEST" "bash -s -- $args" "$READY_SCRIPT"; then
    CHECK="readiness"
    CHECK_OUT="$(last_lines)"
    return 1
  fi
  [[ "$KUBE" == yes ]] || return 0
  if ! remote "$NODE_DEST" "systemctl is-active kubelet" || [[ "$OUT" != active ]]; then
    CHECK="kubelet"
    CHECK_OUT="systemctl is-active kubelet: $(output)"
    return 1
  fi
  if ! kube get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' || [[ "$OUT" != True ]]; then
    CHECK="node Ready"
    CHECK_OUT="the Node's Ready condition is $(output)"
    return 1
  fi
  [[ "$ROLE" == control-plane ]] || return 0
  # Mirror pods are named <static pod>-<node name in lower case> (kubelet
  # pkg/kubelet/config/common.go generatePodName).
  for pod in kube-apiserver etcd; do
    if ! kube -n kube-system get pod "$pod-${NODE,,}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' || [[ "$OUT" != True ]]; then
      CHECK="$pod"
      CHECK_OUT="pod kube-system/$pod-${NODE,,} Ready is $(output)"
      return 1
    fi
  done
}

# gate polls gate_once until it passes GATE_PASSES times in a row (a poll
# interval apart: a minute with the default 5 s), or NIXLAB_HEALTH_TIMEOUT
# passes. One pass right after a switch may read what the old kubelet
# posted: the Node's Ready condition stays True for the node monitor's
# grace period after a kubelet stops posting (50 s), and a kubelet that
# crashes again after its restart is `active` between crashes; within the
# window the condition turns, or the unit reads `activating`, and the count
# starts again.
gate() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) passes=0
  log "checking health"
  while (( passes < GATE_PASSES )); do
    if gate_once; then
      passes=$((passes + 1))
      (( passes < GATE_PASSES )) || break
    else
      passes=0
      if (( SECONDS >= deadline )); then
        CHECK_OUT="$CHECK_OUT (still failing after $HEALTH_TIMEOUT s)"
        return 1
      fi
    fi
    sleep "$POLL_SECONDS"
  done
}

# wait_booted PATH waits, bounded by NIXLAB_HEALTH_TIMEOUT, until the node
# booted PATH.
wait_booted() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) booted=""
  while :; do
    # shellcheck disable=SC2016 # expanded by the node's shell
    if remote "$NODE_DEST" 'p="$(readlink -f "$NR/run/booted-system")" && printf "%s\n" "${p#"$NR"}"'; then
      booted="$OUT"
      [[ "$booted" != "$1" ]] || return 0
    fi
    if (( SECONDS >= deadline )); then
      CHECK="reboot"
      if [[ -n "$booted" ]]; then
        CHECK_OUT="after $HEALTH_TIMEOUT s the node runs $booted, not $1"
      else
        CHECK_OUT="the node did not come back within $HEALTH_TIMEOUT s: $(output)"
      fi
      return 1
    fi
    sleep "$POLL_SECONDS"
  done
}

# switch_cmd ACTION PATH prints the command that runs PATH's
# switch-to-configuration ACTION as root, in its own unit.
switch_cmd() {
  printf '%s\n' "sudo -n systemd-run -E LOCALE_ARCHIVE --collect --no-ask-password --pipe --quiet --service-type=exec --unit=nixos-rebuild-switch-to-configuration --wait \"\$NR\"$(quote "$2/bin/switch-to-configuration") $1"
}

# activate PATH makes PATH the system profile and activates it (switch, or
# boot and reboot). On failure sets CHECK and CHECK_OUT.
activate() {
  local path="$1"
  if ! remote "$NODE_DEST" "sudo -n nix-env -p \"\$NR\"$PROFILE --set $(quote "$path")"; then
    CHECK="profile"
    CHECK_OUT="nix-env -p $PROFILE --set $path: $(output)"
    return 1
  fi
  if ! changed_parts "$path"; then
    CHECK="profile"
    CHECK_OUT="cannot compare $path with the booted system: $(output)"
    return 1
  fi
  if [[ -z "$CHANGED" ]]; then
    log "switching to $path"
    if ! remote "$NODE_DEST" "$(switch_cmd switch "$path")"; then
      CHECK="switch"
      CHECK_OUT="$(last_lines)"
      return 1
    fi
    return 0
  fi
  log "rebooting into $path ($CHANGED changed)"
  if ! remote "$NODE_DEST" "$(switch_cmd boot "$path")"; then
    CHECK="boot"
    CHECK_OUT="$(last_lines)"
    return 1
  fi
  # The connection drops while systemd goes down: its exit status says nothing.
  remote "$NODE_DEST" "sudo -n systemctl reboot" || true
  wait_booted "$path"
}

uncordon() {
  kube uncordon "$NODE" || return 1
  kube annotate node "$NODE" "$ANNOTATION-" || return 1
}

# drain cordons (marking the node as nixlab's) and drains the node.
drain() {
  local cmd
  if [[ "$CORDONED" == true && -z "$MARK" ]]; then
    OURS=0
    log "draining (it was cordoned before the roll, not by nixlab: it stays cordoned)"
  else
    # Annotate first: an interruption between the two leaves an annotated
    # schedulable node (harmless), never a cordoned node that looks as if
    # someone else had cordoned it.
    kube annotate --overwrite node "$NODE" "$ANNOTATION=${SYSTEM#/nix/store/}" ||
      die "cannot annotate Node $NODE: $(output); nothing was changed"
    OURS=1
    kube cordon "$NODE" || die "kubectl cordon $NODE failed: $(output)"
    log "draining"
  fi
  cmd="sudo -n timeout --kill-after=10 $((DRAIN_TIMEOUT + 60)) kubectl --kubeconfig $ADMIN_CONF $(quote drain "$NODE" --ignore-daemonsets --delete-emptydir-data "--timeout=${DRAIN_TIMEOUT}s")"
  if ! remote "$KUBE_DEST" "$cmd"; then
    local why
    why="$(last_lines)"
    local after="$NODE stays cordoned (it was cordoned before the roll)"
    if (( OURS )); then
      if uncordon; then
        after="$NODE was uncordoned again (nothing on it changed)"
      else
        after="uncordoning $NODE failed too ($(output)): run 'kubectl uncordon $NODE'"
      fi
    fi
    printf '%s\n' "$CURRENT"
    die "drain failed: kubectl drain did not finish within $(minutes "$DRAIN_TIMEOUT") (nixlab:updates.drainTimeoutMinutes; a PodDisruptionBudget that allows no disruption, or pods that do not stop): $why; $after; the roll stopped"
  fi
}

# upgrade_kubernetes apply|node runs the target's kubeadm upgrade on the node.
upgrade_kubernetes() {
  local kubeadm cmd how
  kubeadm="\"\$NR\"$(quote "$SYSTEM/sw/bin/kubeadm")"
  if [[ "$1" == apply ]]; then
    how="kubeadm upgrade apply"
    cmd="sudo -n $kubeadm upgrade apply -y $(quote "$TARGET_VERSION")"
  else
    how="kubeadm upgrade node"
    cmd="sudo -n $kubeadm upgrade node"
  fi
  log "upgrading Kubernetes to $TARGET_VERSION ($how)"
  remote "$NODE_DEST" "$cmd" ||
    die "$how failed: $(last_lines); $NODE is not switched and stays cordoned (kubeadm rolls back a failed control-plane upgrade itself): fix the cause and re-run, or 'kubectl uncordon $NODE' to keep it as it is"
}

# finish_healthy uncordons the node when nixlab cordoned it.
finish_healthy() {
  if [[ "$KUBE" != yes ]]; then
    log "healthy"
  elif (( OURS )); then
    uncordon || die "healthy, but uncordoning failed: $(output); run 'kubectl uncordon $NODE'"
    log "healthy, uncordoned"
  else
    log "healthy; left cordoned (it was cordoned before the roll, not by nixlab)"
  fi
}

# failed CHECK OUTPUT handles a failed activation or gate of the target.
failed() {
  local check="$1" why="$2" note=""
  if [[ -n "$UPGRADED" ]]; then
    note=" ($UPGRADED already ran and is not undone: the control plane stays on $TARGET_VERSION)"
  fi
  if [[ "$ROLLBACK" != yes ]]; then
    die "$check failed: $why; rollback is off (nixlab:updates.rollback): $NODE is left as it is$([[ "$KUBE" == yes ]] && printf ', cordoned') (its system profile points at $SYSTEM); fix it and re-run, or switch back by hand to $CURRENT$note; the roll stopped"
  fi
  log "$check failed: $why; rolling back to $CURRENT"
  if activate "$CURRENT" && gate; then
    if [[ "$KUBE" == yes ]] && (( OURS )); then
      uncordon || log "uncordoning failed: $(output); run 'kubectl uncordon $NODE'"
    fi
    printf '%s\n' "$CURRENT"
    die "$check failed: $why; rolled back to $CURRENT; the roll stopped$note"
  fi
  die "$check failed: $why; the rollback to $CURRENT failed too: $CHECK failed: $CHECK_OUT. $NODE is left cordoned. By hand: ssh $NODE_DEST, 'sudo nix-env -p $PROFILE --set <a working system>', then 'sudo <that system>/bin/switch-to-configuration switch' (or 'boot' and reboot), check the node, then 'kubectl uncordon $NODE'$note; the roll stopped"
}

main() {
  validate_env
  setup_ssh
  read_links
  if [[ "$KUBE" == yes ]]; then
    pick_kube_host
    read_node
    [[ -z "$MARK" ]] || OURS=1
    check_versions
  fi
  CHANGED="x"
  if [[ "$CURRENT" == "$SYSTEM" ]]; then
    changed_parts "$SYSTEM" || die "cannot compare $SYSTEM with the booted system: $(output)"
  fi
  if [[ "$CURRENT" == "$SYSTEM" && -z "$CHANGED" ]]; then
    local pending
    pending="$(pending_upgrade)"
    if [[ -n "$pending" ]]; then
      # On the system already (a node cloned or switched before the
      # cluster was upgraded, or an interrupted roll), but kubeadm has not
      # upgraded it: drain, upgrade, gate, uncordon.
      log "already on $SYSTEM, but its kubeadm upgrade is pending"
      drain
      run_upgrade "$pending"
      gate || die "$CHECK failed: $CHECK_OUT after kubeadm upgrade $pending; $NODE stays cordoned (it already ran the system: nothing to roll back to): fix it and re-run; the roll stopped"
      finish_healthy
      printf '%s\n' "$SYSTEM"
      return 0
    fi
    if [[ "$KUBE" == yes && -n "$MARK" ]]; then
      log "already on $SYSTEM, cordoned by an interrupted roll: resuming"
      gate || die "$CHECK failed: $CHECK_OUT; $NODE stays cordoned (resumed roll, nothing to roll back to): fix it and re-run, or roll back by hand; the roll stopped"
      finish_healthy
    else
      log "already on $SYSTEM, skipped"
    fi
    printf '%s\n' "$SYSTEM"
    return 0
  fi

  # NixOS deletes a user it declared before and declares no more
  # (nixpkgs nixos/modules/config/update-users-groups.pl: the users in
  # /var/lib/nixos/declarative-users missing from the new spec are removed),
  # so switching a node whose login user is not the new system's admin user
  # would lock nixlab (and the rollback) out of it.
  [[ "$KUBE" != yes ]] || not_ahead
  if [[ "$NIXLAB_NODE_USER" != "$ADMIN_USER" ]]; then
    die "refused: the new system's admin user is $ADMIN_USER but $NODE logs in as $NIXLAB_NODE_USER (the user it was cloned with); switching would delete $NIXLAB_NODE_USER and lock the node out. Set nixlab:adminUser back to $NIXLAB_NODE_USER, or hold the node (nixlab:updates.hold) or replace it. Nothing was changed"
  fi
  log "copying $SYSTEM"
  # As root on the node (sudo -n nix-daemon --stdio: a local store, a
  # trusted client; nixos/modules/config/nix.nix trusted-users need not
  # name the login user, so nodes cloned before it did take a roll too),
  # and without signature checks: the daemon checks signatures whenever the
  # client asks, trusted or not (nix src/libstore/daemon.cc, AddToStoreNar:
  # `if (!trusted && dontCheckSigs) dontCheckSigs = false`), and a closure
  # built here is unsigned. ssh-ng runs `<remote-program> --stdio`
  # (libstore/ssh-store.cc, remote-program; %20 is a space in the URL).
  OUT="$(nix --extra-experimental-features nix-command copy --no-check-sigs \
    --to "ssh-ng://$NODE_DEST?remote-program=sudo%20-n%20/run/current-system/sw/bin/nix-daemon" "$SYSTEM" 2>&1)" || {
    ERR=""
    die "copy failed: $(last_lines); nothing on $NODE changed"
  }
  if [[ "$KUBE" == yes ]]; then
    drain
    # A newer minor or patch: the control plane's static pods follow
    # kubeadm-config's kubernetesVersion, which only `upgrade apply`
    # rewrites (v1.35.4 cmd/kubeadm/app/cmd/phases/upgrade/apply/
    # uploadconfig.go; phases/upgrade/policy.go allows patch upgrades);
    # every other node follows with `upgrade node` (its kubelet config and,
    # on a control plane, its static pods).
    local kind
    kind="$(pending_upgrade)"
    [[ -z "$kind" ]] || run_upgrade "$kind"
  fi
  if ! activate "$SYSTEM"; then
    failed "$CHECK" "$CHECK_OUT"
  fi
  if ! gate; then
    failed "$CHECK" "$CHECK_OUT"
  fi
  finish_healthy
  printf '%s\n' "$SYSTEM"
}

main "$@"
