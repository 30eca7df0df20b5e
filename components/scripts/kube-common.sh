#!/usr/bin/env bash
# kube-common.sh — the helpers every kube-*.sh shares. Not run on its own:
# each kube script sources it from beside itself when run as a file, and
# components.scriptCommand inlines it in place of that `source` line when the
# script is sent to a node as `bash -c '<text>'` (where nothing can be
# sourced). Functions only; they use the variables of the script that
# includes them: NODE and PHASE (message prefix), OUT (the last tool's
# output), KUBE_DIR, RUN_DIR, POLL_SECONDS, TIMEOUT, and set SECRET_DIR,
# SECRET_PATH, INPUT and KUBEADM_VERSION.
# shellcheck disable=SC2034,SC2154

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

# api_ready succeeds when the API server answers /readyz through admin.conf.
api_ready() {
  run kubectl_admin get --raw=/readyz
}

# cleanup removes the root-only directory holding this run's secrets.
cleanup() {
  if [[ -n "$SECRET_DIR" ]]; then
    sudo -n rm -rf -- "$SECRET_DIR" || true
  fi
}

# secret_file NAME CONTENT writes CONTENT (a secret: it goes through a pipe,
# never an argument) to NAME in a root-only directory under RUN_DIR, created
# on first use and removed when the script exits; prints nothing, sets
# SECRET_PATH.
secret_file() {
  if [[ -z "$SECRET_DIR" ]]; then
    trap cleanup EXIT
    SECRET_DIR="$(sudo -n mktemp -d "$RUN_DIR/nixlab-kube.XXXXXX")" ||
      fail "cannot create a root-only directory under $RUN_DIR with 'sudo -n mktemp -d' (the admin user needs passwordless sudo)"
  fi
  SECRET_PATH="$SECRET_DIR/$1"
  printf '%s\n' "$2" | sudo -n tee "$SECRET_PATH" >/dev/null ||
    fail "cannot write $SECRET_PATH"
}

# read_stdin reads all of stdin into INPUT; fails when it is empty.
read_stdin() {
  INPUT=""
  IFS= read -r -d '' INPUT || true
  [[ -n "${INPUT//[[:space:]]/}" ]] || fail "nothing on stdin: $1 expected"
}

# check_version WANT sets KUBEADM_VERSION (vMAJOR.MINOR.PATCH) from `kubeadm version -o short` (one line, the GitVersion:
# cmd/kubeadm/app/cmd/version.go RunVersion) and, unless WANT is -, refuses
# a kubeadm whose major.minor differs.
check_version() {
  local want="$1" have
  if ! KUBEADM_VERSION="$(kubeadm version -o short 2>/dev/null)"; then
    fail "cannot run 'kubeadm version -o short': is pkgs.kubernetes in the node image?"
  fi
  KUBEADM_VERSION="${KUBEADM_VERSION%%$'\n'*}"
  [[ "$KUBEADM_VERSION" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+ ]] ||
    fail "'kubeadm version -o short' printed '$KUBEADM_VERSION', not vMAJOR.MINOR.PATCH"
  have="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
  if [[ "$want" != - && "$have" != "$want" ]]; then
    fail "the node's kubeadm is $KUBEADM_VERSION (Kubernetes $have) but the cluster must run $want: change the nixpkgs pin in nixos/flake.nix (or nixlab:kubernetes.version) so that they agree"
  fi
}

kubeadm_reset() {
  log "$1: resetting the node with 'kubeadm reset -f' first"
  run sudo -n timeout --kill-after=30 "$TIMEOUT" kubeadm reset -f || fail "kubeadm reset -f failed"
}

# write_manifest CONTENT writes the kube-vip static pod unless it already
# has exactly that content (the kubelet restarts a pod whose manifest changes).
write_manifest() {
  local path="$KUBE_DIR/manifests/kube-vip.yaml" current=""
  current="$(sudo -n cat "$path" 2>/dev/null)" || current=""
  [[ "$current" != "$1" ]] || return 0
  sudo -n mkdir -p "$KUBE_DIR/manifests" || fail "cannot create $KUBE_DIR/manifests"
  printf '%s\n' "$1" | sudo -n tee "$path" >/dev/null || fail "cannot write $path"
}
