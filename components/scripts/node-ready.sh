#!/usr/bin/env bash
# node-ready.sh — runs ON a freshly cloned NixOS node, over SSH, as the
# (non-root) admin user. Checks that the node keeps what the nixlab NixOS
# modules promise a Kubernetes node, and reports every check that fails.
# Everything it reads is readable without root: no sudo anywhere.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' node-ready <nodeName> <nfsMountPoint|-> <swap> <timeoutSeconds>
#
#   nodeName        the VM's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$ (used in messages only)
#   nfsMountPoint   absolute path of the NFS automount, or - when the node has none
#   swap            yes: the node has swap (the kubelet must run with
#                   --fail-swap-on=false); no: the node must have no active swap
#   timeoutSeconds  positive integer: how long to wait for cloud-init to finish
#
# Checks, in this order (the name in front is the one used in messages):
#   cloud-init      `timeout <timeoutSeconds> cloud-init status --wait` exits 0 (done);
#                   2 (recoverable errors) passes with a warning on stderr; 1 (error)
#                   or not finishing in time fails. Failures quote the detail/error
#                   lines of `cloud-init status --long`.
#   nfs             (skipped for -) the mount point is accessed to trigger the
#                   automount (`ls`, bounded by a timeout), then `findmnt` must list an
#                   nfs or nfs4 filesystem on it (an automount lists autofs as well).
#   kernel modules  overlay and br_netfilter are present (built in or loaded) under
#                   /sys/module.
#   sysctls         net.bridge.bridge-nf-call-iptables, net.bridge.bridge-nf-call-ip6tables
#                   and net.ipv4.ip_forward are 1 (read from /proc/sys).
#   containerd      `systemctl is-active containerd` prints active.
#   swap            yes: /proc/swaps lists an active swap device and `systemctl cat kubelet`
#                   contains --fail-swap-on=false; no: /proc/swaps lists no swap device.
# A failing check does not stop the others: all of them run, each failure is reported.
#
# stdout: on success exactly one line,
#   node <name> ready: cloud-init done, nfs mounted at /mnt/nfs, ...
# stderr: one line per failed check, `node <name>: <check> failed: <detail>`, warnings
#   (`node <name>: warning: ...`) and, on failure, a last `node <name> not ready: ...` line.
# Exit: 0 when every check passed; 1 when at least one check failed; 2 on invalid
# arguments (nothing is run then).
#
# Tools used: bash, timeout (coreutils), cloud-init, ls, findmnt (util-linux), systemctl.
#
# For tests only: NIXLAB_PROC_ROOT (default /proc) and NIXLAB_SYS_ROOT (default /sys)
# point the script at fake /proc and /sys trees. Nothing else reads the environment.
set -euo pipefail

readonly SCRIPT_NAME="node-ready"
readonly PROC_ROOT="${NIXLAB_PROC_ROOT:-/proc}"
readonly SYS_ROOT="${NIXLAB_SYS_ROOT:-/sys}"
# How long accessing the NFS mount point (which mounts it) may take. The NixOS
# module sets x-systemd.mount-timeout=30, so a healthy mount takes far less.
readonly NFS_ACCESS_TIMEOUT=60
# Bound for `cloud-init status --long`, which only reads status files.
readonly CLOUD_INIT_LONG_TIMEOUT=30
# Longest detail quoted from cloud-init's output, in characters.
readonly MAX_DETAIL=1500

NODE=""
MOUNT_POINT=""
SWAP=""
TIMEOUT=""

# Set by each check: DETAIL explains a failure, PASSED describes a success.
DETAIL=""
PASSED=""
PASSED_CHECKS=()
FAILED_CHECKS=()

usage() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf 'usage: %s <nodeName> <nfsMountPoint|-> <swap: yes|no> <timeoutSeconds>\n' "$SCRIPT_NAME" >&2
  exit 2
}

parse_args() {
  (( $# == 4 )) || usage "expected 4 arguments, got $#"
  NODE="$1"
  MOUNT_POINT="$2"
  SWAP="$3"
  TIMEOUT="$4"
  [[ "$NODE" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] ||
    usage "invalid node name '$NODE': use letters, digits, dots and dashes, starting with a letter or digit"
  if [[ "$MOUNT_POINT" != "-" ]]; then
    [[ "$MOUNT_POINT" == /* && ! "$MOUNT_POINT" =~ [[:cntrl:]] ]] ||
      usage "invalid NFS mount point '$MOUNT_POINT': use an absolute path, or - for none"
  fi
  [[ "$SWAP" == yes || "$SWAP" == no ]] || usage "invalid swap setting '$SWAP': use yes or no"
  [[ "$TIMEOUT" =~ ^[1-9][0-9]{0,8}$ ]] || usage "invalid timeout '$TIMEOUT': use a positive number of seconds"
}

warn() {
  printf 'node %s: warning: %s\n' "$NODE" "$*" >&2
}

# join SEP ITEMS... prints the items separated by SEP.
join() {
  local sep="$1" out=""
  shift
  while (( $# > 0 )); do
    out+="${out:+$sep}$1"
    shift
  done
  printf '%s\n' "$out"
}

# trim prints its argument without leading and trailing whitespace.
trim() {
  local s="$1"
  s="${s#"${s%%[![:space:]]*}"}"
  s="${s%"${s##*[![:space:]]}"}"
  printf '%s\n' "$s"
}

# shorten prints its argument cut to MAX_DETAIL characters.
shorten() {
  local s="$1"
  if (( ${#s} > MAX_DETAIL )); then
    s="${s:0:MAX_DETAIL}..."
  fi
  printf '%s\n' "$s"
}

# cloud_init_details prints the status, detail, errors and recoverable_errors
# entries of `cloud-init status --long` on one line, e.g.
#   status: error; detail: DataSourceNoCloud [seed=/dev/sr0]; errors: - ('init', ...)
# Empty entries ([], {}) are left out; nothing is printed when cloud-init says
# nothing useful.
cloud_init_details() {
  local out="" line key value current="" keep=0
  local -a entries=()
  out="$(timeout --kill-after=5 "$CLOUD_INIT_LONG_TIMEOUT" cloud-init status --long 2>&1)" || true
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    if [[ "$line" =~ ^([a-z_]+):(.*)$ ]]; then
      # A new top-level key: finish the previous entry.
      if (( keep )) && [[ -n "$current" ]]; then entries+=("$current"); fi
      key="${BASH_REMATCH[1]}"
      value="$(trim "${BASH_REMATCH[2]}")"
      current=""
      keep=0
      case "$key" in
        status | detail | errors | recoverable_errors)
          keep=1
          if [[ -n "$value" && "$value" != "[]" && "$value" != "{}" ]]; then
            current="$key: $value"
          fi
          ;;
      esac
    elif (( keep )); then
      # Continuation lines (indented items, WARNING:/ERROR: groups, older
      # cloud-init's detail on the following line).
      value="$(trim "$line")"
      [[ -n "$value" ]] || continue
      current="${current:-$key:} $value"
    fi
  done <<<"$out"
  if (( keep )) && [[ -n "$current" ]]; then entries+=("$current"); fi
  (( ${#entries[@]} > 0 )) || return 0
  shorten "$(join '; ' "${entries[@]}")"
}

check_cloud_init() {
  local rc=0 err="" details
  err="$(timeout --kill-after=10 "$TIMEOUT" cloud-init status --wait 2>&1 >/dev/null)" || rc=$?
  err="$(trim "${err//$'\n'/ }")"
  case "$rc" in
    0)
      PASSED="cloud-init done"
      return 0
      ;;
    2)
      details="$(cloud_init_details)"
      warn "cloud-init finished with recoverable errors${details:+: $details}"
      PASSED="cloud-init done (with recoverable errors)"
      return 0
      ;;
    1)
      details="$(cloud_init_details)"
      DETAIL="cloud-init finished with an error${details:+: $details}"
      ;;
    124 | 137)
      details="$(cloud_init_details)"
      DETAIL="did not finish within $TIMEOUT s${details:+ ($details)}"
      ;;
    126 | 127)
      # The nixpkgs cloud-init module runs it from its units only: the node
      # needs pkgs.cloud-init in environment.systemPackages for this check.
      DETAIL="cannot run cloud-init${err:+: $(shorten "$err")} (is cloud-init on the admin user's PATH, i.e. in environment.systemPackages?)"
      ;;
    *)
      details="$(cloud_init_details)"
      DETAIL="'cloud-init status --wait' exited with $rc${err:+: $(shorten "$err")}${details:+; $details}"
      ;;
  esac
  return 1
}

check_nfs() {
  local rc=0 err="" out="" line fstype
  local -a found=()
  # Listing the directory makes the kernel mount the automount. Whether the
  # listing itself is allowed (export permissions) does not matter here.
  err="$(timeout --kill-after=5 "$NFS_ACCESS_TIMEOUT" ls -A -- "$MOUNT_POINT" 2>&1 >/dev/null)" || rc=$?
  out="$(findmnt -n -l -o FSTYPE --mountpoint "$MOUNT_POINT" 2>/dev/null)" || true
  while IFS= read -r line; do
    fstype="$(trim "$line")"
    [[ -n "$fstype" ]] || continue
    if [[ "$fstype" == nfs || "$fstype" == nfs4 ]]; then
      PASSED="nfs mounted at $MOUNT_POINT"
      return 0
    fi
    found+=("$fstype")
  done <<<"$out"
  if (( ${#found[@]} == 0 )); then
    DETAIL="nothing is mounted at $MOUNT_POINT"
  else
    DETAIL="no nfs/nfs4 filesystem at $MOUNT_POINT, found only $(join '+' "${found[@]}")"
  fi
  if (( rc == 124 || rc == 137 )); then
    DETAIL+="; accessing it did not finish within $NFS_ACCESS_TIMEOUT s (NFS server unreachable?)"
  elif (( rc != 0 )); then
    err="$(trim "${err//$'\n'/ }")"
    DETAIL+="; accessing it failed${err:+: $(shorten "$err")}"
  fi
  return 1
}

check_kernel_modules() {
  local module
  local -a missing=()
  for module in overlay br_netfilter; do
    [[ -d "$SYS_ROOT/module/$module" ]] || missing+=("$module")
  done
  if (( ${#missing[@]} == 0 )); then
    PASSED="overlay+br_netfilter loaded"
    return 0
  fi
  DETAIL="not loaded: $(join ', ' "${missing[@]}") (nothing under $SYS_ROOT/module/)"
  return 1
}

check_sysctls() {
  local key file value
  local -a problems=()
  for key in net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables net/ipv4/ip_forward; do
    file="$PROC_ROOT/sys/$key"
    if [[ ! -r "$file" ]]; then
      problems+=("${key//\//.} does not exist")
      continue
    fi
    value="$(trim "$(<"$file")")"
    [[ "$value" == 1 ]] || problems+=("${key//\//.} is ${value:-empty}, want 1")
  done
  if (( ${#problems[@]} == 0 )); then
    PASSED="sysctls set"
    return 0
  fi
  DETAIL="$(join ', ' "${problems[@]}")"
  return 1
}

check_containerd() {
  local state=""
  state="$(systemctl is-active containerd 2>/dev/null)" || true
  state="$(trim "${state%%$'\n'*}")"
  if [[ "$state" == active ]]; then
    PASSED="containerd active"
    return 0
  fi
  DETAIL="containerd is ${state:-in an unknown state} (systemctl is-active containerd)"
  return 1
}

# active_swaps prints the active swap devices listed in /proc/swaps, one a line.
active_swaps() {
  local file="$PROC_ROOT/swaps" header=1 device rest
  [[ -r "$file" ]] || return 0
  while read -r device rest || [[ -n "$device" ]]; do
    if (( header )); then
      header=0
      continue
    fi
    [[ -n "$device" ]] && printf '%s\n' "$device"
  done <"$file"
  return 0
}

check_swap() {
  local swaps unit=""
  local -a devices=() problems=()
  swaps="$(active_swaps)"
  if [[ -n "$swaps" ]]; then
    mapfile -t devices <<<"$swaps"
  fi
  if [[ "$SWAP" == no ]]; then
    if (( ${#devices[@]} == 0 )); then
      PASSED="swap off"
      return 0
    fi
    DETAIL="swap is active ($(join ', ' "${devices[@]}")) but the node should have none: the kubelet refuses to start with swap on"
    return 1
  fi
  (( ${#devices[@]} > 0 )) || problems+=("no active swap in $PROC_ROOT/swaps")
  if ! unit="$(systemctl cat kubelet 2>/dev/null)"; then
    problems+=("no kubelet unit ('systemctl cat kubelet' failed)")
  elif [[ "$unit" != *--fail-swap-on=false* ]]; then
    problems+=("the kubelet unit does not pass --fail-swap-on=false, so the kubelet refuses to start with swap on")
  fi
  if (( ${#problems[@]} == 0 )); then
    PASSED="swap on (kubelet --fail-swap-on=false)"
    return 0
  fi
  DETAIL="$(join '; ' "${problems[@]}")"
  return 1
}

# run_check NAME FUNCTION runs one check and records its outcome.
run_check() {
  local name="$1" fn="$2"
  DETAIL=""
  PASSED=""
  if "$fn"; then
    PASSED_CHECKS+=("${PASSED:-$name ok}")
  else
    printf 'node %s: %s failed: %s\n' "$NODE" "$name" "${DETAIL:-unknown error}" >&2
    FAILED_CHECKS+=("$name")
  fi
}

main() {
  parse_args "$@"
  run_check "cloud-init" check_cloud_init
  if [[ "$MOUNT_POINT" == "-" ]]; then
    PASSED_CHECKS+=("nfs skipped (none configured)")
  else
    run_check "nfs" check_nfs
  fi
  run_check "kernel modules" check_kernel_modules
  run_check "sysctls" check_sysctls
  run_check "containerd" check_containerd
  run_check "swap" check_swap

  if (( ${#FAILED_CHECKS[@]} == 0 )); then
    printf 'node %s ready: %s\n' "$NODE" "$(join ', ' "${PASSED_CHECKS[@]}")"
    return 0
  fi
  local count="${#FAILED_CHECKS[@]}" noun="checks" passed=""
  (( count > 1 )) || noun="check"
  if (( ${#PASSED_CHECKS[@]} > 0 )); then
    passed="; passed: $(join ', ' "${PASSED_CHECKS[@]}")"
  fi
  printf 'node %s not ready: %d %s failed (%s)%s\n' "$NODE" "$count" "$noun" \
    "$(join ', ' "${FAILED_CHECKS[@]}")" "$passed" >&2
  return 1
}

main "$@"
