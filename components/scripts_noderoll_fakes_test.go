package components_test

// The fake lab node-roll.sh runs against: a local nix store (the machine that
// runs `pulumi up`), one directory per node (its root: /nix/store,
// /run/current-system, /run/booted-system, the system profile) reached
// through a fake ssh, and a shared cluster state read and changed by a fake
// kubectl that runs "on" the control plane it was sent to. Every fake
// appends "<where>: <tool> <args>" to $FAKE_CALLS (where: local or the node
// address), so tests check the order of calls, and the fake ssh also writes
// its whole argv to $FAKE_ARGV, so tests check that the key never is an
// argument.
//
// Node root ($FAKE_WORLD/hosts/<address>, the script's NIXLAB_ROOT there):
//   nix/store/<hash>-...             store paths (fake systems: rollSystem)
//   run/current-system, run/booted-system, nix/var/nix/profiles/system  links
//   boot-default    the system the boot loader starts (switch-to-configuration)
//   down            N: ssh refuses the next N connections; "forever": always
//   reboot-down     N: how many connections a reboot refuses (default 2)
//   reboot-into     a reboot boots this store path instead of boot-default
//   kubelet         what `systemctl is-active kubelet` prints (default active)
//   kubelet-starting  N: the next N checks see it "activating" first
//   ready-fail-<system basename>   node-ready fails on that system, with this text
//   switch-fail-<system basename>  switch-to-configuration switch fails so
// Cluster ($FAKE_WORLD/cluster):
//   version         kubeadm-config's kubernetesVersion (vX.Y.Z)
//   nodes/<n>/host  the node's address (its kubelet's version is the
//                   current system's k8s-version); role: control-plane|worker
//   nodes/<n>/cordoned, nodes/<n>/annotation, nodes/<n>/notready
//   pods/<pod>.notready   that mirror pod is not Ready (when the file names a
//                   system basename: only while its node runs that system)
//   pdb             a PodDisruptionBudget blocks every eviction
//   down/<address>  the API server on that control plane does not answer
//   error           a request whose "<namespace>|<args>" contains its first
//                   line fails with the other lines on stderr
// A system's sw/bin/kubeadm prints the system's k8s-version file; with a
// kubeadm-broken file beside it, it cannot start (that text, exit 127).

// rollFakeSSH behaves like OpenSSH's ssh(1) for the options node-roll.sh
// uses: the words after the destination are joined with spaces into one
// command the remote login shell runs with -c (ssh.c: the command buffer is
// the remaining arguments joined by " "; session.c do_child: `$SHELL -c
// command`), stdin passed through, the remote exit status returned, 255 for
// a connection error (ssh(1) EXIT STATUS). It refuses unless the key file is
// a private key with mode 600 and the batch, key-only and host-key options
// are set.
const rollFakeSSH = `
printf '%s\n' "$*" >>"$FAKE_ARGV"
key="" ; opts=" "
while (( $# > 0 )); do
  case "$1" in
    -i) key="$2"; shift 2 ;;
    -o) opts+="$2 "; shift 2 ;;
    -*) echo "fake ssh: unexpected option $1" >&2; exit 255 ;;
    *) break ;;
  esac
done
dest="$1"; shift
host="${dest#*@}"
# Logged without the environment prefix every command starts with.
c="$*"
c="${c#*'NR="${NIXLAB_ROOT:-}"; '}"
printf '%s: ssh %s\n' "$host" "$c" >>"$FAKE_CALLS"
[[ -n "$key" && -f "$key" && "$(stat -c %a "$key")" == 600 ]] || { echo "fake ssh: key file '$key' missing or not mode 600" >&2; exit 255; }
grep -q -- '-----BEGIN OPENSSH PRIVATE KEY-----' "$key" || { echo "Load key \"$key\": invalid format" >&2; exit 255; }
for o in IdentitiesOnly=yes BatchMode=yes ConnectTimeout=10 StrictHostKeyChecking=accept-new; do
  [[ "$opts" == *" $o "* ]] || { echo "fake ssh: option $o missing" >&2; exit 255; }
done
[[ "$opts" =~ \ UserKnownHostsFile=(/[^ ]+)\  && -f "${BASH_REMATCH[1]}" ]] || { echo "fake ssh: no UserKnownHostsFile" >&2; exit 255; }
root="$FAKE_WORLD/hosts/$host"
[[ -d "$root" ]] || { echo "ssh: Could not resolve hostname $host: Name or service not known" >&2; exit 255; }
if [[ -f "$root/down" ]]; then
  n="$(cat "$root/down")"
  if [[ "$n" == forever ]] || (( n > 0 )); then
    [[ "$n" == forever ]] || echo $((n - 1)) >"$root/down"
    echo "ssh: connect to host $host port 22: Connection refused" >&2
    exit 255
  fi
fi
export NIXLAB_ROOT="$root" FAKE_HOST="$host" PATH="$FAKE_NODE_BIN:$FAKE_TOOLS"
exec bash -c "$*"
`

// rollFakeNix is `nix copy --no-check-sigs --to ssh-ng://<user>@<host>?remote-program=... <path>`
// (nix 2.x src/nix/copy.cc; ssh-ng runs ssh with the options in
// NIX_SSHOPTS, libstore/ssh.cc SSHMaster::addCommonSSHOpts, and
// `<remote-program> --stdio` on the node, libstore/ssh-store.cc): it copies
// the path's closure (the file "closure" in each fake system lists it) from
// the local store into the node's, and needs the same key options ssh
// gets. Without --no-check-sigs the node's daemon checks signatures, and a
// closure built here has none (libstore/daemon.cc, AddToStoreNar: a client
// may only turn the checks on); without running the daemon as root
// (sudo -n nix-daemon) the login user is not trusted on nodes whose
// trusted-users do not name it (nixos/modules/config/nix.nix).
const rollFakeNix = `
printf 'local: nix %s\n' "$*" >>"$FAKE_CALLS"
[[ "$1 $2 $3 $4" == "--extra-experimental-features nix-command copy --no-check-sigs" ]] || {
  echo "error: path '${!#}' lacks a valid signature (fake nix: unexpected: $*)" >&2; exit 1; }
[[ "$5" == --to && $# == 7 ]] || { echo "fake nix: unexpected: $*" >&2; exit 64; }
url="$6"; path="$7"
[[ "$url" == ssh-ng://*'?remote-program=sudo%20-n%20/run/current-system/sw/bin/nix-daemon' ]] || {
  echo "error: cannot add path '$path' because it lacks a signature by a trusted key (fake nix: store URL $url)" >&2; exit 1; }
dest="${url#ssh-ng://}"; dest="${dest%%\?*}"
for o in "-o IdentitiesOnly=yes" "-o BatchMode=yes" "-o StrictHostKeyChecking=accept-new" "-o UserKnownHostsFile="; do
  [[ " $NIX_SSHOPTS" == *" $o"* ]] || { echo "fake nix: NIX_SSHOPTS lacks $o: $NIX_SSHOPTS" >&2; exit 1; }
done
[[ "$NIX_SSHOPTS" =~ -i\ ([^ ]+) && "$(stat -c %a "${BASH_REMATCH[1]}")" == 600 ]] || { echo "fake nix: no key file in NIX_SSHOPTS" >&2; exit 1; }
root="$FAKE_WORLD/hosts/${dest#*@}"
if [[ ! -d "$root" || "$(cat "$root/down" 2>/dev/null)" == forever ]]; then
  echo "error: cannot connect to '$dest'" >&2; exit 1
fi
src="$NIXLAB_ROOT$path"
[[ -d "$src" ]] || { echo "error: path '$path' is not valid" >&2; exit 1; }
while read -r b; do
  [[ -e "$root/nix/store/$b" ]] || cp -a "$NIXLAB_ROOT/nix/store/$b" "$root/nix/store/"
done <"$src/closure"
echo "copying path '$path' to 'ssh-ng://$dest'..." >&2
`

// rollFakeSudo is `sudo -n` (sudo(8): -n never prompts; without it a
// password would be needed): the command runs as root (FAKE_ROOT=1).
const rollFakeSudo = `
printf '%s: sudo %s\n' "$FAKE_HOST" "$*" >>"$FAKE_CALLS"
[[ "${1:-}" == -n ]] || { echo "sudo: a password is required" >&2; exit 1; }
shift
export FAKE_ROOT=1
exec "$@"
`

// rollFakeNixEnv is `nix-env -p <profile> --set <path>` (nix
// src/nix-env/nix-env.cc opSet: the profile's new generation points at the
// path, which must be a valid store path; the system profile is root's).
const rollFakeNixEnv = `
printf '%s: nix-env %s\n' "$FAKE_HOST" "$*" >>"$FAKE_CALLS"
[[ "$1" == -p && "$3" == --set && $# == 4 ]] || { echo "fake nix-env: unexpected: $*" >&2; exit 64; }
[[ -n "${FAKE_ROOT:-}" ]] || { echo "error: opening lock file '$2.lock': Permission denied" >&2; exit 1; }
[[ "$2" == "$NIXLAB_ROOT/nix/var/nix/profiles/system" ]] || { echo "fake nix-env: unexpected profile $2" >&2; exit 64; }
[[ -d "$NIXLAB_ROOT$4" ]] || { echo "error: path '$4' is not valid" >&2; exit 1; }
ln -sfn "$NIXLAB_ROOT$4" "$2"
`

// rollFakeSystemdRun is `systemd-run [options] --wait --pipe <command>`
// (systemd-run(1): with --wait it waits for the unit and exits with its
// status; --pipe connects stdio): it runs the command after the options,
// as root only.
const rollFakeSystemdRun = `
printf '%s: systemd-run %s\n' "$FAKE_HOST" "$*" >>"$FAKE_CALLS"
[[ -n "${FAKE_ROOT:-}" ]] || { echo "Failed to start transient service unit: Access denied" >&2; exit 1; }
wait=""
while (( $# > 0 )); do
  case "$1" in
    -E) shift 2 ;;
    --wait) wait=1; shift ;;
    --unit=*|--collect|--no-ask-password|--pipe|--quiet|--service-type=exec) shift ;;
    -*) echo "fake systemd-run: unexpected option $1" >&2; exit 64 ;;
    *) break ;;
  esac
done
[[ -n "$wait" ]] || { echo "fake systemd-run: no --wait" >&2; exit 64; }
exec "$@"
`

// rollFakeSystemctl: `is-active kubelet` prints the unit's state and exits
// 0 when it is active or reloading (systemd src/systemctl/
// systemctl-is-active.c verb_is_active: check_unit_generic with those good
// states); `reboot` (root) boots the
// boot loader's default (set by switch-to-configuration) and drops the
// connection (ssh exits 255), after which the node refuses a few
// connections while it starts.
const rollFakeSystemctl = `
printf '%s: systemctl %s\n' "$FAKE_HOST" "$*" >>"$FAKE_CALLS"
r="$NIXLAB_ROOT"
case "$*" in
  "is-active kubelet")
    s="$(cat "$r/kubelet" 2>/dev/null || echo active)"
    if [[ -f "$r/kubelet-starting" ]] && (( $(cat "$r/kubelet-starting") > 0 )); then
      echo $(( $(cat "$r/kubelet-starting") - 1 )) >"$r/kubelet-starting"
      s=activating
    fi
    echo "$s"
    [[ "$s" == active || "$s" == reloading ]]
    ;;
  reboot)
    [[ -n "${FAKE_ROOT:-}" ]] || { echo "Failed to reboot: Access denied" >&2; exit 1; }
    into="$(cat "$r/reboot-into" 2>/dev/null || cat "$r/boot-default" 2>/dev/null || readlink "$r/run/current-system")"
    ln -sfn "$into" "$r/run/booted-system"
    ln -sfn "$into" "$r/run/current-system"
    cat "$r/reboot-down" 2>/dev/null >"$r/down" || echo 2 >"$r/down"
    echo "Connection to $FAKE_HOST closed by remote host." >&2
    exit 255
    ;;
  *) echo "fake systemctl: unexpected: $*" >&2; exit 64 ;;
esac
`

// rollFakeSwitch is a system's bin/switch-to-configuration (nixpkgs
// switch-to-configuration-ng): root only; boot makes this system the boot
// loader's default; switch does that and activates it (/run/current-system
// points at it); when units fail to start it still has switched, prints
// the failure and exits 4.
const rollFakeSwitch = `
self="$(cd "$(dirname "$0")/.." && pwd)"
printf '%s: switch-to-configuration %s %s\n' "$FAKE_HOST" "${self#"$NIXLAB_ROOT"}" "$*" >>"$FAKE_CALLS"
[[ -n "${FAKE_ROOT:-}" ]] || { echo "This program is not meant to be run by a normal user" >&2; exit 1; }
case "$1" in
  boot) echo "$self" >"$NIXLAB_ROOT/boot-default" ;;
  switch)
    echo "$self" >"$NIXLAB_ROOT/boot-default"
    echo "activating the configuration..."
    ln -sfn "$self" "$NIXLAB_ROOT/run/current-system"
    f="$NIXLAB_ROOT/switch-fail-$(basename "$self")"
    if [[ -f "$f" ]]; then cat "$f" >&2; echo "warning: error(s) occurred while switching to the new configuration" >&2; exit 4; fi
    ;;
  *) echo "fake switch-to-configuration: unexpected: $*" >&2; exit 64 ;;
esac
`

// rollFakeKubeadm is a system's sw/bin/kubeadm at its version (the file
// k8s-version beside bin/): `version -o short` prints it (cmd/kubeadm/app/
// cmd/version.go RunVersion); `upgrade apply -y <v>` (root) enforces
// v1.35.4 phases/upgrade/policy.go EnforceVersionPolicies (no newer minor
// than kubeadm itself, one minor at a time) and records the cluster's new
// version (apply/uploadconfig.go); `upgrade node` (root) takes no arguments
// (cmd/upgrade/node.go newCmdNode: cobra.NoArgs).
const rollFakeKubeadm = `
self="$(cd "$(dirname "$0")/../.." && pwd)"
v="$(cat "$self/k8s-version")"
printf '%s: kubeadm(%s) %s\n' "${FAKE_HOST:-local}" "$v" "$*" >>"$FAKE_CALLS"
if [[ "$*" == "version -o short" ]]; then
  # A kubeadm that cannot start (the system's kubeadm-broken file says why).
  [[ ! -f "$self/kubeadm-broken" ]] || { cat "$self/kubeadm-broken" >&2; exit 127; }
  echo "$v"; exit 0
fi
[[ -n "${FAKE_ROOT:-}" ]] || { printf '[preflight] Some fatal errors occurred:\n\t[ERROR IsPrivilegedUser]: user is not running as root\n' >&2; exit 1; }
minor() { local m="${1#v1.}"; echo "${m%%.*}"; }
case "$*" in
  "upgrade apply -y "v*)
    want="$4"; cluster="$(cat "$FAKE_WORLD/cluster/version")"
    echo "[upgrade/versions] Cluster version: $cluster"
    echo "[upgrade/versions] kubeadm version: $v"
    if (( $(minor "$want") > $(minor "$v") )); then
      echo "[upgrade/version] FATAL: the version argument is invalid due to these errors: Specified version to upgrade to \"$want\" is at least one minor release higher than the kubeadm minor release ($(minor "$want") > $(minor "$v")). Such an upgrade is not supported" >&2; exit 1
    fi
    if (( $(minor "$want") > $(minor "$cluster") + 1 )); then
      echo "[upgrade/version] FATAL: Specified version to upgrade to \"$want\" is too high; kubeadm can upgrade only 1 minor version at a time" >&2; exit 1
    fi
    [[ ! -f "$NIXLAB_ROOT/kubeadm-fail" ]] || { cat "$NIXLAB_ROOT/kubeadm-fail" >&2; exit 1; }
    echo "$want" >"$FAKE_WORLD/cluster/version"
    echo "[upgrade] SUCCESS! A control plane node of your cluster was upgraded to \"$want\"."
    ;;
  "upgrade node")
    [[ ! -f "$NIXLAB_ROOT/kubeadm-fail" ]] || { cat "$NIXLAB_ROOT/kubeadm-fail" >&2; exit 1; }
    echo "[upgrade] The upgrade for this node was successfully completed!"
    ;;
  *) echo "fake kubeadm: unexpected: $*" >&2; exit 64 ;;
esac
`

// rollFakeKubectl answers the requests node-roll.sh sends, through
// admin.conf as root. Output shapes: `-o jsonpath` prints the fields with
// nothing else (an absent field prints nothing: .spec.unschedulable is
// unset on a schedulable node); cordon/uncordon print "node/<n>
// cordoned|uncordoned" (k8s.io/kubectl v0.35.4 pkg/cmd/drain/drain.go
// RunCordonOrUncordon); annotate with "key-" removes the key; drain evicts
// through the eviction API and, when a PodDisruptionBudget refuses, retries
// until --timeout, then fails (pkg/drain/drain.go evictPods: "global
// timeout reached"). A Node's kubelet version is that of the system its
// node currently runs.
const rollFakeKubectl = `
printf '%s: kubectl %s\n' "$FAKE_HOST" "$*" >>"$FAKE_CALLS"
cl="$FAKE_WORLD/cluster"
[[ "$1 $2" == "--kubeconfig /etc/kubernetes/admin.conf" && -n "${FAKE_ROOT:-}" ]] || { echo "error: open $2: permission denied" >&2; exit 1; }
shift 2
[[ "$1" != --request-timeout=* ]] || shift
ns=""
if [[ "$1" == -n ]]; then ns="$2"; shift 2; fi
if [[ -f "$cl/down/$FAKE_HOST" ]]; then echo "The connection to the server $FAKE_HOST:6443 was refused - did you specify the right host or port?" >&2; exit 1; fi
# An API error: the request whose "<namespace>|<args>" contains the first
# line of cluster/error fails with the rest as kubectl's stderr.
if [[ -f "$cl/error" && "$ns|$*" == *"$(head -n 1 "$cl/error")"* ]]; then tail -n +2 "$cl/error" >&2; exit 1; fi
nd() { [[ -d "$cl/nodes/$1" ]] || { echo "Error from server (NotFound): nodes \"$1\" not found" >&2; exit 1; }; echo "$cl/nodes/$1"; }
case "$ns|$*" in
  "|get --raw=/readyz") echo ok ;;
  "kube-system|get configmap kubeadm-config -o jsonpath={.data.ClusterConfiguration}")
    printf 'apiServer: {}\napiVersion: kubeadm.k8s.io/v1beta4\nclusterName: lab\ncontrolPlaneEndpoint: 10.0.0.100:6443\nkind: ClusterConfiguration\nkubernetesVersion: %s\nnetworking:\n  podSubnet: 10.244.0.0/16\n' "$(cat "$cl/version")"
    ;;
  "|get node "*' -o jsonpath={.status.nodeInfo.kubeletVersion}{"|"}{.spec.unschedulable}{"|"}{.metadata.annotations.nixlab\.io/roll}')
    d="$(nd "$3")"
    h="$FAKE_WORLD/hosts/$(cat "$d/host")"
    printf '%s|%s|%s' "$(cat "$(readlink -f "$h/run/current-system")/k8s-version")" "$([[ -f "$d/cordoned" ]] && echo true)" "$(cat "$d/annotation" 2>/dev/null)"
    ;;
  "|get node "*' -o jsonpath={.status.conditions[?(@.type=="Ready")].status}')
    d="$(nd "$3")"
    if [[ -f "$d/notready" ]]; then printf 'Unknown'; else printf 'True'; fi
    ;;
  "kube-system|get pod "*' -o jsonpath={.status.conditions[?(@.type=="Ready")].status}')
    n="${3#*-}"; n="${n#apiserver-}"
    [[ -d "$cl/nodes/$n" && "$(cat "$cl/nodes/$n/role")" == control-plane ]] || { echo "Error from server (NotFound): pods \"$3\" not found" >&2; exit 1; }
    f="$cl/pods/$3.notready"
    if [[ -f "$f" && ( ! -s "$f" || "$(cat "$f")" == "$(basename "$(readlink -f "$FAKE_WORLD/hosts/$(cat "$cl/nodes/$n/host")/run/current-system")")" ) ]]; then printf 'False'; else printf 'True'; fi
    ;;
  "|annotate --overwrite node "*" nixlab.io/roll="*)
    d="$(nd "$4")"; echo "${5#nixlab.io/roll=}" >"$d/annotation"; echo "node/$4 annotated" ;;
  "|annotate node "*" nixlab.io/roll-")
    d="$(nd "$3")"; rm -f "$d/annotation"; echo "node/$3 annotated" ;;
  "|cordon "*) d="$(nd "$2")"; touch "$d/cordoned"; echo "node/$2 cordoned" ;;
  "|uncordon "*) d="$(nd "$2")"; rm -f "$d/cordoned"; echo "node/$2 uncordoned" ;;
  "|drain "*)
    d="$(nd "$2")"
    [[ "$*" == "drain $2 --ignore-daemonsets --delete-emptydir-data --timeout="*s ]] || { echo "fake kubectl: unexpected: $*" >&2; exit 64; }
    t="${*: -1}"; t="${t#--timeout=}"
    touch "$d/cordoned"
    echo "node/$2 already cordoned"
    echo "Warning: ignoring DaemonSet-managed Pods: kube-flannel/kube-flannel-ds-7xk2p, kube-system/kube-proxy-9dj4s"
    echo "evicting pod default/web-0"
    if [[ -f "$cl/pdb" ]]; then
      echo "error when evicting pods/\"web-0\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget." >&2
      echo "There are pending nodes to be drained:"
      echo " $2"
      echo "error: unable to drain node \"$2\" due to error: [error when evicting pods/\"web-0\" -n \"default\": global timeout reached: $t], continuing command..." >&2
      exit 1
    fi
    echo "pod/web-0 evicted"
    touch "$d/drained"
    echo "node/$2 drained"
    ;;
  *) echo "fake kubectl: unexpected: -n $ns $*" >&2; exit 64 ;;
esac
`

// rollReadyScript stands in for node-ready.sh (NIXLAB_READY_SCRIPT): it
// records its arguments and fails, like node-ready.sh, with a `node <n>:
// <check> failed: ...` line when the node's root has a ready-fail file for
// the system it runs.
const rollReadyScript = `set -euo pipefail
cur="$(readlink -f "$NIXLAB_ROOT/run/current-system")"
printf '%s: node-ready %s\n' "$FAKE_HOST" "$*" >>"$FAKE_CALLS"
f="$NIXLAB_ROOT/ready-fail-$(basename "$cur")"
if [[ -f "$f" ]]; then
  printf 'node %s: %s\n' "$1" "$(cat "$f")" >&2
  printf 'node %s not ready: 1 check failed (containerd)\n' "$1" >&2
  exit 1
fi
echo "node $1 ready: cloud-init done, hostname $1"
`
