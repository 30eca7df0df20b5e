package components_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/testutil"
)

// The fake world of the vm-drain tests: a Proxmox host's `qm` whose VMs run
// a fake kubectl inside their guest agent, and one Kubernetes cluster that
// every control plane's kubectl sees. Everything lives in files under the
// world directory W ($FAKE_WORLD):
//
//	vms/<vmid>/status      running | stopped (no directory: no such VM)
//	vms/<vmid>/agent-down  the VM's qemu-guest-agent does not answer
//	vms/<vmid>/noconf      no /etc/kubernetes/admin.conf (not kubeadm'ed yet)
//	vms/<vmid>/refused     its API server refuses connections
//	vms/<vmid>/hang        a kubectl command whose argv contains this file's
//	                       text never ends
//	vms/<vmid>/truncate    the agent reports stderr as truncated
//	vms/<vmid>/status-error  `qm status` fails otherwise than "does not
//	                       exist", with this text on stderr
//	vms/<vmid>/status-out  `qm status` prints this text instead of its
//	                       "status: <state>" line
//	vms/<vmid>/qm-hangs    `qm guest exec` never returns: the host's
//	                       `timeout` ends it with this exit status (124 or 137)
//	vms/<vmid>/garbage     `qm guest exec` prints this text instead of JSON
//	vms/<vmid>/signal      a kubectl command whose argv contains this file's
//	                       text is killed by signal 9
//	vms/<vmid>/error       a kubectl command whose argv contains this file's
//	                       first line fails (exit 1) with the rest on stderr
//	cluster/nodes/<n>          Node n is registered
//	cluster/unschedulable/<n>  spec.unschedulable true
//	cluster/annotation/<n>     metadata.annotations["nixlab.io/vm-update"]
//	cluster/notready/<n>       how many more reads report Ready False
//	                           ("never": always)
//	cluster/pdb                a PodDisruptionBudget refuses every eviction
//	cluster/drained/<n>        kubectl drain finished for n
//	calls                      "qm <args>" and "kubectl@<vmid> <args>" lines

// vmDrainFakeQm answers like qemu-server's qm (src/PVE/CLI/qm.pm, master
// branch at "bump version to 9.2.6"; the mirror has no tags):
//   - `qm status <vmid>` (method `status`): loads the config first, so a
//     missing VM dies "Configuration file 'nodes/<node>/qemu-server/<vmid>.conf'
//     does not exist" (non-zero exit); else prints "status: <qmpstatus>".
//   - `qm guest exec <vmid> [--timeout N] -- <argv>` (method `exec`): options
//     before `--`, the argv after it, run without a shell (src/PVE/QemuServer/
//     Agent.pm qemu_exec: path = first word, arg = the rest). The agent must
//     be available (Agent.pm assert_agent_available: dies "VM <vmid> is not
//     running" / "QEMU guest agent is not running", exit 255); a program the
//     guest cannot start is an agent error. Synchronous: it polls
//     exec-status until the command exits or --timeout (default 30) s pass;
//     then it warns "timeout reached, returning pid" and prints only
//     {"pid": N}. An exited command is printed as qm's to_json (pretty,
//     canonical): exitcode, exited 1 (Agent.pm qemu_exec_status turns the
//     JSON booleans into 1/0), out-data and err-data base64-decoded, each
//     only when non-empty, err-truncated 1 when the agent cut stderr (qemu
//     qga/commands.c guest_exec_status; the cut is at 16 MiB). qm exits 0
//     whatever the command's exit code. The guest's kubectl reports how long
//     it ran (simulated seconds, or "inf") in $W/duration.
const vmDrainFakeQm = `
W="$FAKE_WORLD"
printf 'qm %s\n' "$*" >>"$W/calls"
unexpected() { echo "fake qm: unexpected: $*" >&2; exit 2; }
exists() {
  [[ -d "$W/vms/$1" ]] || { echo "Configuration file 'nodes/pve/qemu-server/$1.conf' does not exist" >&2; exit 2; }
}
case "${1:-} ${2:-}" in
  "status "*)
    (( $# == 2 )) || unexpected "$@"
    exists "$2"
    [[ ! -f "$W/vms/$2/status-error" ]] || { cat "$W/vms/$2/status-error" >&2; exit 2; }
    [[ ! -f "$W/vms/$2/status-out" ]] || { cat "$W/vms/$2/status-out"; exit 0; }
    echo "status: $(cat "$W/vms/$2/status")"
    ;;
  "guest exec")
    vmid="$3"
    shift 3
    wait=30
    while (( $# > 0 )) && [[ "$1" != -- ]]; do
      case "$1" in
        --timeout) wait="$2"; shift 2 ;;
        *) echo "Unknown option: ${1#--}" >&2; exit 255 ;;
      esac
    done
    [[ "${1:-}" == -- ]] || unexpected "no -- before the command"
    shift
    exists "$vmid"
    [[ "$(cat "$W/vms/$vmid/status")" == running ]] || { echo "VM $vmid is not running" >&2; exit 255; }
    [[ ! -f "$W/vms/$vmid/agent-down" ]] || { echo "QEMU guest agent is not running" >&2; exit 255; }
    if [[ "$1" != /run/current-system/sw/bin/kubectl ]]; then
      echo "Agent error: Guest agent command failed, error was 'Failed to execute child process \"$1\" (No such file or directory)'" >&2
      exit 255
    fi
    shift
    printf 'kubectl@%s %s\n' "$vmid" "$*" >>"$W/calls"
    echo 0 >"$W/duration"
    rc=0
    FAKE_VM="$vmid" "$W/guest-kubectl" "$@" >"$W/out" 2>"$W/err" || rc=$?
    d="$(cat "$W/duration")"
    [[ ! -f "$W/vms/$vmid/garbage" ]] || { cat "$W/vms/$vmid/garbage"; exit 0; }
    if [[ "$d" == inf ]] || (( wait != 0 && d >= wait )); then
      echo "timeout reached, returning pid" >&2
      printf '{\n   "pid" : 4242\n}\n'
      exit 0
    fi
    # A command killed by a signal has "signal" instead of "exitcode"
    # (guest_exec_status: WIFSIGNALED); the fake kubectl exits 137 for it.
    perl -MJSON::PP -e '
      sub slurp { open my $f, "<", $_[0] or die; local $/; my $s = <$f>; $s }
      my %r = (exited => 1);
      if ($ARGV[0] == 137) { $r{signal} = 9 } else { $r{exitcode} = 0 + $ARGV[0] }
      my $o = slurp($ARGV[1]); $r{"out-data"} = $o if $o ne "";
      my $e = slurp($ARGV[2]); $r{"err-data"} = $e if $e ne "";
      $r{"err-truncated"} = 1 if -f $ARGV[3];
      print JSON::PP->new->utf8->pretty->canonical->encode(\%r);
    ' "$rc" "$W/out" "$W/err" "$W/vms/$vmid/truncate"
    ;;
  *) unexpected "$@" ;;
esac
`

// vmDrainFakeTimeout is coreutils' timeout(1) as the script calls it,
// `timeout --kill-after=<s> <s> qm ...` (coreutils src/timeout.c: exit 124
// when the command timed out, 128+9 = 137 when it also had to be killed
// with KILL after --kill-after): it runs the command, unless the VM named
// by `qm guest exec <vmid>` has a qm-hangs file, whose status it then
// returns at once instead of waiting. It records the durations it got in
// $W/timeouts.
const vmDrainFakeTimeout = `
W="$FAKE_WORLD"
[[ "$1" == --kill-after=* ]] || { echo "fake timeout: unexpected: $*" >&2; exit 125; }
printf '%s %s\n' "${1#--kill-after=}" "$2" >>"$W/timeouts"
shift 2
if [[ "$1 $2 $3" == "qm guest exec" && -f "$W/vms/$4/qm-hangs" ]]; then
  exit "$(cat "$W/vms/$4/qm-hangs")"
fi
exec "$@"
`

// vmDrainNodeFields is the jsonpath the script reads a Node with; the fake
// kubectl answers only exactly it.
const vmDrainNodeFields = `{.spec.unschedulable}{"\t"}{.metadata.annotations.nixlab\.io/vm-update}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\t"}{.status.conditions[?(@.type=="Ready")].reason}{"\t"}{.status.conditions[?(@.type=="Ready")].message}`

// vmDrainFakeKubectl is kubectl v1.35 inside a control-plane VM (k8s.io/
// kubectl v0.35; it takes the global flags the script passes, --kubeconfig,
// --cache-dir and --request-timeout, and nothing else): an explicit
// --kubeconfig that does not exist fails "error:
// stat <path>: no such file or directory" (client-go tools/clientcmd
// loader.go Load); server errors "Error from server (NotFound): nodes \"<n>\"
// not found"; an unreachable server "The connection to the server
// <host>:6443 was refused - ..."; jsonpath prints a missing field as nothing
// and no trailing newline; `annotate` prints "node/<n> annotated" (also for
// removal, `<key>-`); `cordon`/`uncordon` print "node/<n> cordoned",
// "already cordoned", "uncordoned" (pkg/cmd/drain/drain.go). `drain` cordons
// first (RunDrain → RunCordonOrUncordon(true)), warns on stderr about
// DaemonSet pods, prints "evicting pod <ns>/<name>" and finally "node/<n>
// drained"; an eviction a PodDisruptionBudget refuses is retried ("error
// when evicting pods/... (will retry after 5s)", stderr) until the global
// --timeout, then "global timeout reached: <Go duration>" (pkg/drain/
// drain.go evictPods) and exit 1: such a run lasts its whole --timeout.
const vmDrainFakeKubectl = `
W="$FAKE_WORLD"
vm="$FAKE_VM"
cl="$W/cluster"
kc=""
args=()
while (( $# > 0 )); do
  case "$1" in
    --kubeconfig) kc="$2"; shift 2 ;;
    --request-timeout=30s | --cache-dir=/root/.kube/cache) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]}"
if [[ -f "$W/vms/$vm/hang" && "$*" == *"$(cat "$W/vms/$vm/hang")"* ]]; then
  echo inf >"$W/duration"
  exit 0
fi
if [[ -f "$W/vms/$vm/signal" && "$*" == *"$(cat "$W/vms/$vm/signal")"* ]]; then
  echo "evicting pod default/web-0"
  exit 137
fi
if [[ -f "$W/vms/$vm/error" && "$*" == *"$(head -n 1 "$W/vms/$vm/error")"* ]]; then
  tail -n +2 "$W/vms/$vm/error" >&2
  exit 1
fi
if [[ "$kc" != /etc/kubernetes/admin.conf || -f "$W/vms/$vm/noconf" ]]; then
  echo "error: stat $kc: no such file or directory" >&2
  exit 1
fi
if [[ -f "$W/vms/$vm/refused" ]]; then
  echo "The connection to the server 192.0.2.10:6443 was refused - did you specify the right host or port?" >&2
  exit 1
fi
registered() { [[ -f "$cl/nodes/$1" ]] || { echo "Error from server (NotFound): nodes \"$1\" not found" >&2; exit 1; }; }
goduration() {
  local s="$1"
  if (( s < 60 )); then printf '%ds' "$s"
  elif (( s < 3600 )); then printf '%dm%ds' $((s / 60)) $((s % 60))
  else printf '%dh%dm%ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60)); fi
}
# The Node named: get node <n> / annotate node <n> / cordon|uncordon|drain <n>.
if [[ "${2:-}" == node ]]; then n="${3:-}"; else n="${2:-}"; fi
fields='` + vmDrainNodeFields + `'
case "$*" in
  "get --raw /readyz") echo ok ;;
  "get node $n -o jsonpath=$fields")
    registered "$n"
    uns=""; [[ ! -f "$cl/unschedulable/$n" ]] || uns=true
    ann=""; [[ ! -f "$cl/annotation/$n" ]] || ann="$(cat "$cl/annotation/$n")"
    ready=$'True\tKubeletReady\tkubelet is posting ready status'
    if [[ -f "$cl/notready/$n" ]]; then
      k="$(cat "$cl/notready/$n")"
      if [[ "$k" == never ]] || (( k > 0 )); then
        ready=$'False\tKubeletNotReady\tcontainer runtime network not ready: NetworkReady=false'
        [[ "$k" == never ]] || echo $((k - 1)) >"$cl/notready/$n"
      fi
    fi
    printf '%s\t%s\t%s' "$uns" "$ann" "$ready"
    ;;
  "annotate node $n nixlab.io/vm-update=draining --overwrite")
    registered "$n"
    mkdir -p "$cl/annotation"; printf draining >"$cl/annotation/$n"
    echo "node/$n annotated"
    ;;
  "annotate node $n nixlab.io/vm-update-")
    registered "$n"
    rm -f "$cl/annotation/$n"
    echo "node/$n annotated"
    ;;
  "cordon $n")
    registered "$n"
    if [[ -f "$cl/unschedulable/$n" ]]; then echo "node/$n already cordoned"; exit 0; fi
    mkdir -p "$cl/unschedulable"; touch "$cl/unschedulable/$n"
    echo "node/$n cordoned"
    ;;
  "uncordon $n")
    registered "$n"
    if [[ ! -f "$cl/unschedulable/$n" ]]; then echo "node/$n already uncordoned"; exit 0; fi
    rm -f "$cl/unschedulable/$n"
    echo "node/$n uncordoned"
    ;;
  "drain $n --ignore-daemonsets --delete-emptydir-data --timeout="*s)
    registered "$n"
    t="${*: -1}"; t="${t#--timeout=}"; t="${t%s}"
    if [[ -f "$cl/unschedulable/$n" ]]; then echo "node/$n already cordoned"; else mkdir -p "$cl/unschedulable"; touch "$cl/unschedulable/$n"; echo "node/$n cordoned"; fi
    echo "Warning: ignoring DaemonSet-managed Pods: kube-flannel/kube-flannel-ds-7xk2p, kube-system/kube-proxy-9dj4s" >&2
    echo "evicting pod default/web-0"
    if [[ -f "$cl/pdb" ]]; then
      echo "$t" >"$W/duration"
      g="$(goduration "$t")"
      echo "error when evicting pods/\"web-0\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget." >&2
      echo "There are pending pods in node \"$n\" when an error occurred: error when evicting pods/\"web-0\" -n \"default\": global timeout reached: $g" >&2
      echo "pod/web-0" >&2
      echo "error: unable to drain node \"$n\" due to error: error when evicting pods/\"web-0\" -n \"default\": global timeout reached: $g, continuing command..." >&2
      echo "There are pending nodes to be drained:" >&2
      echo " $n" >&2
      echo "error: error when evicting pods/\"web-0\" -n \"default\": global timeout reached: $g" >&2
      exit 1
    fi
    echo "pod/web-0 evicted"
    mkdir -p "$cl/drained"; touch "$cl/drained/$n"
    echo "node/$n drained"
    ;;
  *) echo "fake kubectl: unexpected: $*" >&2; exit 64 ;;
esac
`

// vmDrainWorld is one fake Proxmox host with its VMs and cluster.
type vmDrainWorld struct {
	dir string
}

func newVMDrainWorld(t *testing.T) *vmDrainWorld {
	t.Helper()
	testutil.RequireTool(t, "perl")
	w := &vmDrainWorld{dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(w.dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, filepath.Join(w.dir, "bin"), "qm", vmDrainFakeQm)
	testutil.WriteFake(t, filepath.Join(w.dir, "bin"), "timeout", vmDrainFakeTimeout)
	if err := os.MkdirAll(filepath.Join(w.dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, w.dir, "guest-kubectl", vmDrainFakeKubectl)
	return w
}

// set writes a world file (creating its directory).
func (w *vmDrainWorld) set(t *testing.T, path, content string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(w.dir, path), content)
}

// has tells whether a world file exists.
func (w *vmDrainWorld) has(path string) bool {
	_, err := os.Stat(filepath.Join(w.dir, path))
	return err == nil
}

// vm adds a VM in the given state (running or stopped).
func (w *vmDrainWorld) vm(t *testing.T, vmid, state string) *vmDrainWorld {
	t.Helper()
	w.set(t, "vms/"+vmid+"/status", state)
	return w
}

// node registers Node name in the cluster.
func (w *vmDrainWorld) node(t *testing.T, name string) *vmDrainWorld {
	t.Helper()
	w.set(t, "cluster/nodes/"+name, "")
	return w
}

// calls returns the recorded qm and in-guest kubectl calls.
func (w *vmDrainWorld) calls(t *testing.T) string {
	t.Helper()
	if !w.has("calls") {
		return ""
	}
	return scriptReadFile(t, filepath.Join(w.dir, "calls"))
}

// run runs vm-drain the way a command:remote:Command does on the host:
// `bash -c '<embedded script>' vm-drain <args>`, with the fake qm first on PATH.
func (w *vmDrainWorld) run(t *testing.T, args ...string) scriptResult {
	t.Helper()
	return w.runEnv(t, nil, args...)
}

// runEnv is run with extra environment variables (later ones win). It
// fails the test when the run leaves files in its TMPDIR.
func (w *vmDrainWorld) runEnv(t *testing.T, extra []string, args ...string) scriptResult {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	tmp := filepath.Join(w.dir, "tmp")
	env := append([]string{
		"PATH=" + testutil.PathWith(filepath.Join(w.dir, "bin")),
		"FAKE_WORLD=" + w.dir,
		"TMPDIR=" + tmp,
		"NIXLAB_POLL_SECONDS=1",
	}, extra...)
	argv := append([]string{bash, "-c", components.ScriptText("vm-drain.sh"), "vm-drain"}, args...)
	res := scriptRunArgv(t, w.dir, env, argv)
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left behind in TMPDIR: %v", left)
	}
	return res
}

// kubectlCalls returns the kubectl argv lines run in VM vmid, in order.
func (w *vmDrainWorld) kubectlCalls(t *testing.T, vmid string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(w.calls(t), "\n") {
		if rest, ok := strings.CutPrefix(l, "kubectl@"+vmid+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}
