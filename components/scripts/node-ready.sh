#!/usr/bin/env bash
# node-ready.sh — runs ON a freshly cloned NixOS node, over SSH, as the
# (non-root) admin user. Checks that the node keeps what the nixlab NixOS
# modules promise a Kubernetes node, and reports every check that fails.
# Everything it reads is readable without root: no sudo anywhere.
#
# Usage (as run by a Pulumi command:remote:Command):
#   bash -c '<this script>' node-ready <nodeName> <nfsMountPoint|-> <swap> <timeoutSeconds>
#
#   nodeName        the VM's name, ^[A-Za-z0-9][A-Za-z0-9.-]*$ (in messages; the
#                   hostname must match it)
#   nfsMountPoint   absolute path of the NFS automount, or - when the node has none
#   swap            yes: the node has swap (the kubelet must run with a drop-in
#                   config setting failSwapOn: false); no: the node must have no
#                   active swap
#   timeoutSeconds  positive integer: how long to wait for cloud-init to finish
#
# Checks, in this order (the name in front is the one used in messages):
#   cloud-init      `timeout <timeoutSeconds> cloud-init status --wait` must end with
#                   `status: done`. Exit 0 with `status: done`: passes. Exit 2 (a
#                   degraded run: `status: done`, `extended_status: degraded done` in
#                   --long) passes with a warning on stderr. Exit 0 with `status:
#                   disabled` fails: cloud-init never ran, so the node has no
#                   identity (hostname, user, SSH key, address) from Proxmox. Exit 1
#                   (error) or not finishing in time fails. Failures and warnings
#                   quote the status/extended_status/detail/error lines of
#                   `cloud-init status --long`. Output and exit codes follow
#                   canonical/cloud-init cloudinit/cmd/status.py (handle_status_args,
#                   print_status, translate_status; 23.4 and later: exit 2 for
#                   recoverable errors; --wait only returns once the run is done or
#                   cloud-init is disabled, which exits 0).
#   hostname        the kernel's hostname (/proc/sys/kernel/hostname, which is what
#                   `hostname` prints: gethostname(2), proc(5)) equals nodeName, compared
#                   case-insensitively (DNS names, RFC 4343); for a dotted nodeName its
#                   first label is accepted too (cloud-init sets the short name of an
#                   FQDN). cloud-init only warns when it cannot set the hostname.
#   nfs             (skipped for -) the mount point is accessed to trigger the
#                   automount (`ls`, bounded by a timeout), then `findmnt` must list an
#                   nfs or nfs4 filesystem on it (an automount lists autofs as well).
#   disk            the root filesystem grew to the disk: the unit
#                   nixlab-grow-root.service is loaded and has not failed (`systemctl
#                   show`: LoadState=loaded, ActiveState not failed, Result=success),
#                   and, independently, the sizes agree (`findmnt -b` for /, `lsblk -b`
#                   for the device tree under it; see check_disk for the tolerances):
#                   the partitions fill the root disk, the LVs fill the LVM PV
#                   partition that holds the root LV, and the root filesystem fills
#                   its LV. Failures name the sizes and the likely cause.
#   kernel modules  overlay and br_netfilter are present (built in or loaded) under
#                   /sys/module.
#   sysctls         net.bridge.bridge-nf-call-iptables, net.bridge.bridge-nf-call-ip6tables
#                   and net.ipv4.ip_forward are 1 (read from /proc/sys).
#   containerd      `systemctl is-active containerd` prints active.
#   swap            yes: /proc/swaps lists an active swap device,
#                   /etc/kubernetes/kubelet.conf.d/50-nixlab-swap.conf is a
#                   KubeletConfiguration with failSwapOn: false, and `systemctl cat
#                   kubelet` passes --config-dir=/etc/kubernetes/kubelet.conf.d (without
#                   both the kubelet refuses to start with swap on); no: /proc/swaps
#                   lists no swap device.
# A failing check does not stop the others: all of them run, each failure is reported.
#
# stdout: on success exactly one line,
#   node <name> ready: cloud-init done, hostname <name>, nfs mounted at /mnt/nfs, ...
# stderr: one line per failed check, `node <name>: <check> failed: <detail>`, warnings
#   (`node <name>: warning: ...`) and, on failure, a last `node <name> not ready: ...` line.
# Exit: 0 when every check passed; 1 when at least one check failed; 2 on invalid
# arguments (nothing is run then).
#
# Tools used: bash, timeout (coreutils), cloud-init, ls, findmnt and lsblk
# (util-linux), systemctl. None needs root (lsblk reads sysfs and the udev
# database; pvs/vgs would need root, so LVM sizes come from lsblk).
#
# For tests only: NIXLAB_PROC_ROOT (default /proc), NIXLAB_SYS_ROOT (default /sys)
# and NIXLAB_ETC_ROOT (default /etc) point the script at fake /proc, /sys and /etc
# trees. Nothing else reads the environment.
set -euo pipefail

readonly SCRIPT_NAME="node-ready"
readonly PROC_ROOT="${NIXLAB_PROC_ROOT:-/proc}"
readonly SYS_ROOT="${NIXLAB_SYS_ROOT:-/sys}"
readonly ETC_ROOT="${NIXLAB_ETC_ROOT:-/etc}"
# The kubelet drop-in directory and nixlab's swap drop-in in it (written by the
# node image when swap is enabled).
readonly KUBELET_CONFIG_DIR="/etc/kubernetes/kubelet.conf.d"
readonly KUBELET_SWAP_DROPIN="50-nixlab-swap.conf"
# The unit that grows partition, PV, root LV and ext4 at boot.
readonly GROW_UNIT="nixlab-grow-root.service"
# Disk space that may stay unused: GPT keeps 1 MiB before the first partition
# (alignment) and 33 sectors after the last one (backup table); LVM keeps
# 1 MiB for its metadata and less than one 4 MiB extent. 64 MiB covers both
# with room; a disk that did not grow misses gigabytes.
readonly DISK_SLACK_BYTES=$((64 * 1024 * 1024))
# ext4's size as statfs reports it (findmnt SIZE) excludes its own metadata:
# inode tables (about 1.6 %) and the journal (up to 1 GiB), so a grown root
# filesystem is 95-99 % of its LV. Below this percentage it did not grow.
readonly FS_MIN_PERCENT=90
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

# cloud_init_details prints the status, extended_status, detail, errors and
# recoverable_errors entries of `cloud-init status --long` (and
# boot_status_code when it says disabled) on one line, e.g.
#   status: error; extended_status: error - done; detail: DataSourceNoCloud [seed=/dev/sr0]; errors: - ('init', ...)
# Empty entries ([], {}) are left out; nothing is printed when cloud-init says
# nothing useful. The layout is print_status's TABULAR_LONG_TMPL in
# cloudinit/cmd/status.py (list items as "\t- ...").
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
        status | extended_status | detail | errors | recoverable_errors) keep=1 ;;
        boot_status_code) [[ "$value" != disabled* ]] || keep=1 ;;
      esac
      if (( keep )) && [[ -n "$value" && "$value" != "[]" && "$value" != "{}" ]]; then
        current="$key: $value"
      fi
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

# wait_status prints the value of the last `status: <value>` line of
# `cloud-init status --wait` output (progress dots, a newline, then the
# status line: print_status with args.wait in cloudinit/cmd/status.py).
wait_status() {
  local line status=""
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    if [[ "$line" =~ ^\.*status:(.*)$ ]]; then
      status="$(trim "${BASH_REMATCH[1]}")"
    fi
  done <<<"$1"
  printf '%s\n' "$status"
}

check_cloud_init() {
  local rc=0 out="" status details
  out="$(timeout --kill-after=10 "$TIMEOUT" cloud-init status --wait 2>&1)" || rc=$?
  status="$(wait_status "$out")"
  case "$rc" in
    0 | 2)
      if [[ "$status" == "done" ]]; then
        if (( rc == 0 )); then
          PASSED="cloud-init done"
          return 0
        fi
        # Exit 2: recoverable errors ("degraded done"); the run finished.
        details="$(cloud_init_details)"
        warn "cloud-init finished with recoverable errors${details:+: $details}"
        PASSED="cloud-init done (with recoverable errors)"
        return 0
      fi
      details="$(cloud_init_details)"
      if [[ "$status" == disabled ]]; then
        # --wait returns at once, with exit 0, when cloud-init is disabled.
        DETAIL="cloud-init is disabled, so it never applied the node's hostname, user, SSH key and network settings${details:+ ($details)}; check that the image enables services.cloud-init and that nothing disables it (/etc/cloud/cloud-init.disabled, cloud-init=disabled on the kernel command line)"
      else
        DETAIL="'cloud-init status --wait' exited with $rc but reported ${status:+status: $status}${status:-no status}${details:+ ($details)}"
      fi
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
      out="$(trim "${out//$'\n'/ }")"
      DETAIL="cannot run cloud-init${out:+: $(shorten "$out")} (is cloud-init on the admin user's PATH, i.e. in environment.systemPackages?)"
      ;;
    *)
      out="$(trim "${out//$'\n'/ }")"
      details="$(cloud_init_details)"
      DETAIL="'cloud-init status --wait' exited with $rc${out:+: $(shorten "$out")}${details:+; $details}"
      ;;
  esac
  return 1
}

check_hostname() {
  local file="$PROC_ROOT/sys/kernel/hostname" name="" want short
  if [[ ! -r "$file" ]]; then
    DETAIL="cannot read the hostname from $file"
    return 1
  fi
  name="$(trim "$(<"$file")")"
  want="${NODE,,}"
  short="${want%%.*}"
  if [[ "${name,,}" == "$want" || "${name,,}" == "$short" ]]; then
    PASSED="hostname $name"
    return 0
  fi
  DETAIL="the hostname is '${name}', not '$NODE': cloud-init did not set it (it only warns when setting the hostname fails; see /var/log/cloud-init.log, and check that the image leaves networking.hostName empty)"
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

# pair_value LINE KEYREGEX prints the value of KEY="value" in one line of
# `lsblk -P` / `findmnt -P` output (libsmartcols pairs: every value in double
# quotes, unsafe characters hex-escaped as \x..). Returns 1 when absent.
pair_value() {
  local line=" $1"
  [[ "$line" =~ [[:space:]]$2=\"([^\"]*)\" ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

# gib prints a byte count in GiB with one decimal.
gib() {
  local b="$1" g=1073741824
  printf '%d.%d GiB\n' $((b / g)) $(((b % g) * 10 / g))
}

# grow_unit_problem prints why nixlab-grow-root.service is not fine, or
# nothing. `systemctl show --property=...` prints Key=Value lines (for a unit
# that does not exist LoadState=not-found, exit 0); a oneshot with
# RemainAfterExit is ActiveState=active after success, failed with
# Result=exit-code after a failure (systemd.service(5), org.freedesktop.systemd1(5)).
grow_unit_problem() {
  local out="" line load="" active="" result=""
  if ! out="$(systemctl show --property=LoadState,ActiveState,Result "$GROW_UNIT" 2>&1)"; then
    out="$(trim "${out//$'\n'/ }")"
    printf '%s\n' "cannot read the state of $GROW_UNIT ('systemctl show' failed${out:+: $(shorten "$out")})"
    return 0
  fi
  while IFS= read -r line || [[ -n "$line" ]]; do
    case "$line" in
      LoadState=*) load="${line#*=}" ;;
      ActiveState=*) active="${line#*=}" ;;
      Result=*) result="${line#*=}" ;;
    esac
  done <<<"$out"
  if [[ "$load" != loaded ]]; then
    printf '%s\n' "$GROW_UNIT is not installed (LoadState=${load:-unknown}), so nothing grows the root disk: the node image predates it"
  elif [[ "$active" == failed || "$result" != success ]]; then
    printf '%s\n' "$GROW_UNIT failed (ActiveState=${active:-unknown}, Result=${result:-unknown}); see 'journalctl -b -u $GROW_UNIT' on the node"
  fi
}

# DISK_PROBLEMS collects what check_root_sizes finds; DISK_SIZE is the root
# disk's size in bytes when it was found.
DISK_PROBLEMS=()
DISK_SIZE=""

# check_root_sizes compares the sizes along the device tree under /: the
# root filesystem (`findmnt -b -P -o SOURCE,MAJ:MIN,SIZE --mountpoint /`,
# SIZE from statvfs) on its LV or partition, the LVM partition (PV) and the
# disk (`lsblk -b -n -p -P -o NAME,KNAME,MAJ:MIN,TYPE,SIZE,PKNAME`: one line
# per device and parent, TYPE disk/part/lvm, PKNAME the parent's kernel
# name; util-linux misc-utils/lsblk.c). The root device is found by its
# MAJ:MIN (MAJ_MIN in newer util-linux pairs output).
check_root_sizes() {
  local mnt="" tree="" line i
  local fs_source fs_majmin fs_size
  if ! mnt="$(findmnt -n -b -P -o SOURCE,MAJ:MIN,SIZE --mountpoint / 2>&1)" || [[ -z "$mnt" ]]; then
    DISK_PROBLEMS+=("findmnt lists no filesystem mounted at /")
    return 0
  fi
  mnt="${mnt%%$'\n'*}"
  fs_source="$(pair_value "$mnt" SOURCE)" || fs_source=""
  fs_majmin="$(pair_value "$mnt" 'MAJ[:_]MIN')" || fs_majmin=""
  fs_size="$(pair_value "$mnt" SIZE)" || fs_size=""
  if [[ -z "$fs_majmin" || ! "$fs_size" =~ ^[0-9]+$ ]]; then
    DISK_PROBLEMS+=("cannot read the root filesystem's device and size from findmnt ($(shorten "$mnt"))")
    return 0
  fi
  if ! tree="$(lsblk -b -n -p -P -o NAME,KNAME,MAJ:MIN,TYPE,SIZE,PKNAME 2>&1)"; then
    DISK_PROBLEMS+=("lsblk failed: $(shorten "$(trim "${tree//$'\n'/ }")")")
    return 0
  fi
  local -a knames=() types=() sizes=() parents=() majmins=()
  while IFS= read -r line; do
    [[ -n "$line" ]] || continue
    knames+=("$(pair_value "$line" KNAME || true)")
    types+=("$(pair_value "$line" TYPE || true)")
    sizes+=("$(pair_value "$line" SIZE || true)")
    parents+=("$(pair_value "$line" PKNAME || true)")
    majmins+=("$(pair_value "$line" 'MAJ[:_]MIN' || true)")
  done <<<"$tree"

  local root=-1
  for i in "${!knames[@]}"; do
    if [[ "${majmins[$i]}" == "$fs_majmin" ]]; then
      root=$i
      break
    fi
  done
  if (( root < 0 )); then
    DISK_PROBLEMS+=("lsblk does not list the root device $fs_source ($fs_majmin)")
    return 0
  fi
  local root_type="${types[$root]}" root_size="${sizes[$root]}" pv="" disk=""
  case "$root_type" in
    lvm)
      pv="${parents[$root]}"
      for i in "${!knames[@]}"; do
        [[ "${knames[$i]}" == "$pv" && "${types[$i]}" == part ]] && disk="${parents[$i]}"
      done
      ;;
    part) disk="${parents[$root]}" ;;
  esac
  if [[ -z "$disk" ]]; then
    DISK_PROBLEMS+=("the root filesystem $fs_source is on a ${root_type:-unknown} device, not on a partition or an LVM volume on a disk partition")
    return 0
  fi

  # Sum each device once (lsblk repeats a device under every parent).
  local disk_size="" parts=0 pv_size=0 lvs=0
  local -A seen=()
  for i in "${!knames[@]}"; do
    [[ "${sizes[$i]}" =~ ^[0-9]+$ ]] || continue
    [[ -z "${seen[${knames[$i]}|${parents[$i]}]:-}" ]] || continue
    seen["${knames[$i]}|${parents[$i]}"]=1
    case "${types[$i]}" in
      disk) [[ "${knames[$i]}" != "$disk" ]] || disk_size="${sizes[$i]}" ;;
      part)
        [[ "${parents[$i]}" != "$disk" ]] || parts=$((parts + sizes[i]))
        [[ "${knames[$i]}" != "$pv" ]] || pv_size="${sizes[$i]}"
        ;;
      lvm) [[ -z "$pv" || "${parents[$i]}" != "$pv" ]] || lvs=$((lvs + sizes[i])) ;;
    esac
  done
  if [[ -z "$disk_size" ]]; then
    DISK_PROBLEMS+=("lsblk does not list the disk $disk under the root filesystem")
    return 0
  fi
  DISK_SIZE="$disk_size"
  if (( disk_size - parts > DISK_SLACK_BYTES )); then
    DISK_PROBLEMS+=("disk $disk is $(gib "$disk_size") but its partitions use only $(gib "$parts"), so $(gib $((disk_size - parts))) is unused: the partition holding / was not grown (growpart failed; an MBR (msdos) partition table cannot use more than 2 TiB, GPT can)")
  fi
  if [[ -n "$pv" ]] && (( pv_size - lvs > DISK_SLACK_BYTES )); then
    DISK_PROBLEMS+=("LVM partition $pv is $(gib "$pv_size") but its logical volumes use only $(gib "$lvs"): pvresize or lvextend did not grow them (a second volume group named nixos-vg, such as another node's disk, makes LVM refuse or pick the other one)")
  fi
  if (( fs_size * 100 < root_size * FS_MIN_PERCENT )); then
    DISK_PROBLEMS+=("the root filesystem is $(gib "$fs_size") on the $(gib "$root_size") device $fs_source: resize2fs did not grow it")
  fi
}

check_disk() {
  local unit
  DISK_PROBLEMS=()
  DISK_SIZE=""
  unit="$(grow_unit_problem)"
  check_root_sizes
  if [[ -n "$unit" ]]; then
    DISK_PROBLEMS=("$unit" "${DISK_PROBLEMS[@]}")
  fi
  if (( ${#DISK_PROBLEMS[@]} == 0 )); then
    PASSED="root disk grown ($(gib "$DISK_SIZE"))"
    return 0
  fi
  DETAIL="$(join '; ' "${DISK_PROBLEMS[@]}")"
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

# swap_dropin_problem prints what is wrong with the kubelet's swap drop-in,
# or nothing. The drop-in is a KubeletConfiguration (YAML or JSON) merged
# over the kubelet's config by --config-dir (kubelet.config.k8s.io/v1beta1).
swap_dropin_problem() {
  local file="$ETC_ROOT${KUBELET_CONFIG_DIR#/etc}/$KUBELET_SWAP_DROPIN" line kind=0 failswap=0
  if [[ ! -r "$file" ]]; then
    printf '%s\n' "$file does not exist"
    return 0
  fi
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*# ]] && continue
    [[ "$line" =~ (^|[[:space:]{,])\"?kind\"?[[:space:]]*:[[:space:]]*\"?KubeletConfiguration\"?([[:space:]},]|$) ]] && kind=1
    [[ "$line" =~ (^|[[:space:]{,])\"?failSwapOn\"?[[:space:]]*:[[:space:]]*false([[:space:]},]|$) ]] && failswap=1
  done <"$file"
  (( kind )) || printf '%s\n' "$file is not a KubeletConfiguration (no kind: KubeletConfiguration)"
  (( failswap )) || printf '%s\n' "$file does not set failSwapOn: false"
  return 0
}

check_swap() {
  local swaps unit="" dropin
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
  dropin="$(swap_dropin_problem)"
  if [[ -n "$dropin" ]]; then
    mapfile -t -O "${#problems[@]}" problems <<<"$dropin"
  fi
  if ! unit="$(systemctl cat kubelet 2>/dev/null)"; then
    problems+=("no kubelet unit ('systemctl cat kubelet' failed)")
  elif [[ ! "$unit" =~ --config-dir(=|[[:space:]]+)\"?$KUBELET_CONFIG_DIR/?([[:space:]\"]|$) ]]; then
    problems+=("the kubelet unit does not pass --config-dir=$KUBELET_CONFIG_DIR, so it never reads the drop-in")
  fi
  if (( ${#problems[@]} == 0 )); then
    PASSED="swap on (kubelet failSwapOn: false)"
    return 0
  fi
  DETAIL="$(join '; ' "${problems[@]}"): with swap on, the kubelet refuses to start unless a drop-in in --config-dir sets failSwapOn: false"
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
  run_check "hostname" check_hostname
  if [[ "$MOUNT_POINT" == "-" ]]; then
    PASSED_CHECKS+=("nfs skipped (none configured)")
  else
    run_check "nfs" check_nfs
  fi
  run_check "disk" check_disk
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
