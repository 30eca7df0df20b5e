package components_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// The node-ready fakes append their argv (prefixed with their name) to
// $FAKE_CALLS and are driven by environment variables.

// nodeReadyFakeCloudInit: `status --wait` exits $FAKE_CI_RC (default 0), or
// sleeps $FAKE_CI_SLEEP seconds first; `status --long` prints $FAKE_CI_LONG
// (default: the output of a finished run).
const nodeReadyFakeCloudInit = `
printf 'cloud-init %s\n' "$*" >>"$FAKE_CALLS"
case "$*" in
  "status --wait")
    if [[ -n "${FAKE_CI_SLEEP:-}" ]]; then exec sleep "$FAKE_CI_SLEEP"; fi
    echo "......"
    echo "status: done"
    exit "${FAKE_CI_RC:-0}"
    ;;
  "status --long")
    if [[ -n "${FAKE_CI_LONG:-}" ]]; then
      printf '%s\n' "$FAKE_CI_LONG"
    else
      printf 'status: done\nextended_status: done\nboot_status_code: enabled-by-generator\nlast_update: Thu, 01 Jan 1970 00:00:36 +0000\ndetail: DataSourceNoCloud [seed=/dev/sr0][dsmode=net]\nerrors: []\nrecoverable_errors: {}\n'
    fi
    ;;
  *)
    echo "fake cloud-init: unexpected: $*" >&2
    exit 64
    ;;
esac
`

// nodeReadyFakeLs fails with $FAKE_LS_ERR when that is set.
const nodeReadyFakeLs = `
printf 'ls %s\n' "$*" >>"$FAKE_CALLS"
if [[ -n "${FAKE_LS_ERR:-}" ]]; then
  echo "$FAKE_LS_ERR" >&2
  exit 2
fi
echo "some-file"
`

// nodeReadyFakeFindmnt prints the words of $FAKE_FINDMNT (default: an
// automount that has been mounted), one a line, and fails when there are none.
const nodeReadyFakeFindmnt = `
printf 'findmnt %s\n' "$*" >>"$FAKE_CALLS"
out="${FAKE_FINDMNT-autofs nfs4}"
[[ -n "$out" ]] || exit 1
printf '%s\n' $out
`

// nodeReadyFakeSystemctl: containerd's state is $FAKE_CONTAINERD (default
// active); the kubelet unit passes $FAKE_KUBELET_ARGS (default
// --fail-swap-on=false) and is missing with FAKE_KUBELET_MISSING=1.
const nodeReadyFakeSystemctl = `
printf 'systemctl %s\n' "$*" >>"$FAKE_CALLS"
case "$*" in
  "is-active containerd")
    s="${FAKE_CONTAINERD:-active}"
    echo "$s"
    [[ "$s" == active ]] || exit 3
    ;;
  "cat kubelet")
    if [[ -n "${FAKE_KUBELET_MISSING:-}" ]]; then
      echo "No files found for kubelet.service." >&2
      exit 1
    fi
    printf '# /etc/systemd/system/kubelet.service\n[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n\n[Service]\nEnvironment="KUBELET_NIXLAB_ARGS=%s"\nExecStart=/nix/store/abc-kubernetes/bin/kubelet $KUBELET_CONFIG_ARGS $KUBELET_NIXLAB_ARGS\n' "${FAKE_KUBELET_ARGS---fail-swap-on=false}"
    ;;
  *)
    echo "fake systemctl: unexpected: $*" >&2
    exit 64
    ;;
esac
`

const nodeReadySwapHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
const nodeReadySwapEntry = "/dev/dm-1                               partition\t4194300\t\t0\t\t-2\n"

const nodeReadyAllGood = "node n1 ready: cloud-init done, nfs mounted at /mnt/nfs, overlay+br_netfilter loaded, " +
	"sysctls set, containerd active, swap on (kubelet --fail-swap-on=false)\n"

// nodeReadyFixture holds fake commands and fake /proc and /sys trees of a
// healthy node with swap.
type nodeReadyFixture struct {
	dir, bin, tools, proc, sys, calls string
}

func nodeReadyNewFixture(t *testing.T) nodeReadyFixture {
	t.Helper()
	dir := t.TempDir()
	f := nodeReadyFixture{
		dir:   dir,
		bin:   filepath.Join(dir, "bin"),
		proc:  filepath.Join(dir, "proc"),
		sys:   filepath.Join(dir, "sys"),
		calls: filepath.Join(dir, "calls"),
	}
	if err := os.Mkdir(f.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// The PATH holds only the fakes, bash and sleep (for the fakes) and a
	// recording timeout wrapper around the real one: the script must need
	// nothing else (no sudo, no grep, ...).
	f.tools = scriptToolDir(t, "bash", "sleep")
	realTimeout := testutil.RequireTool(t, "timeout")
	testutil.WriteFake(t, f.bin, "timeout", fmt.Sprintf("printf 'timeout %%s\\n' \"$*\" >>\"$FAKE_CALLS\"\nexec %q \"$@\"\n", realTimeout))
	testutil.WriteFake(t, f.bin, "cloud-init", nodeReadyFakeCloudInit)
	testutil.WriteFake(t, f.bin, "ls", nodeReadyFakeLs)
	testutil.WriteFake(t, f.bin, "findmnt", nodeReadyFakeFindmnt)
	testutil.WriteFake(t, f.bin, "systemctl", nodeReadyFakeSystemctl)
	for _, m := range []string{"overlay", "br_netfilter", "nf_conntrack"} {
		scriptWriteFile(t, filepath.Join(f.sys, "module", m, "refcnt"), "0\n")
	}
	for _, key := range []string{"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables", "net/ipv4/ip_forward"} {
		f.sysctl(t, key, "1")
	}
	f.swaps(t, nodeReadySwapEntry)
	return f
}

func (f nodeReadyFixture) sysctl(t *testing.T, key, value string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(f.proc, "sys", key), value+"\n")
}

func (f nodeReadyFixture) swaps(t *testing.T, entries string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(f.proc, "swaps"), nodeReadySwapHeader+entries)
}

func (f nodeReadyFixture) env(extra ...string) []string {
	return append([]string{
		"PATH=" + f.bin + string(os.PathListSeparator) + f.tools,
		"HOME=" + f.dir,
		"FAKE_CALLS=" + f.calls,
		"NIXLAB_PROC_ROOT=" + f.proc,
		"NIXLAB_SYS_ROOT=" + f.sys,
	}, extra...)
}

// run runs node-ready.sh as `bash <file> args...`.
func (f nodeReadyFixture) run(t *testing.T, env []string, args ...string) scriptResult {
	t.Helper()
	return scriptRun(t, f.dir, env, "node-ready.sh", args...)
}

// callList returns the recorded commands, one "name args..." a line.
func (f nodeReadyFixture) callList(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.calls)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

var nodeReadyFailureRE = regexp.MustCompile(`^node n1: (.+?) failed: (.*)$`)

// nodeReadyFailures maps each `node n1: <check> failed: <detail>` line of
// stderr to its detail, and fails the test on a repeated check.
func nodeReadyFailures(t *testing.T, stderr string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(stderr, "\n") {
		if m := nodeReadyFailureRE.FindStringSubmatch(line); m != nil {
			if _, dup := out[m[1]]; dup {
				t.Errorf("check %q reported twice", m[1])
			}
			out[m[1]] = m[2]
		}
	}
	return out
}

// nodeReadyExpectFailures checks a failed run: exit 1, nothing on stdout,
// exactly the named checks failed, each detail containing its wants.
func nodeReadyExpectFailures(t *testing.T, res scriptResult, want map[string][]string) map[string]string {
	t.Helper()
	if res.code != 1 {
		t.Errorf("exit %d, want 1", res.code)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	got := nodeReadyFailures(t, res.stderr)
	var gotNames, wantNames []string
	for name := range got {
		gotNames = append(gotNames, name)
	}
	for name, wants := range want {
		wantNames = append(wantNames, name)
		if detail, ok := got[name]; ok {
			scriptMustContain(t, name+" failure", detail, wants...)
		}
	}
	slices.Sort(gotNames)
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("failed checks = %q, want %q", gotNames, wantNames)
	}
	scriptMustContain(t, "stderr", res.stderr, "node n1 not ready: ")
	return got
}

func nodeReadyHasCall(calls []string, prefix string) bool {
	return slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func TestScriptNodeReady_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "node-ready.sh")
}

func TestScriptNodeReady_AllGood(t *testing.T) {
	args := []string{"n1", "/mnt/nfs", "yes", "300"}
	for _, mode := range []string{"bash file", "bash -c"} {
		t.Run(mode, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			var res scriptResult
			if mode == "bash -c" {
				// The way the component runs it: the script text as the command.
				bash := testutil.RequireTool(t, "bash")
				text := scriptReadFile(t, scriptFile(t, "node-ready.sh"))
				res = scriptRunArgv(t, f.dir, f.env(), append([]string{bash, "-c", text, "node-ready"}, args...))
			} else {
				res = f.run(t, f.env(), args...)
			}
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			if res.stdout != nodeReadyAllGood {
				t.Errorf("stdout = %q\nwant     %q", res.stdout, nodeReadyAllGood)
			}
			if res.stderr != "" {
				t.Errorf("stderr = %q, want nothing", res.stderr)
			}
			calls := f.callList(t)
			for _, want := range []string{
				"timeout --kill-after=10 300 cloud-init status --wait",
				"cloud-init status --wait",
				"timeout --kill-after=5 60 ls -A -- /mnt/nfs",
				"ls -A -- /mnt/nfs",
				"findmnt -n -l -o FSTYPE --mountpoint /mnt/nfs",
				"systemctl is-active containerd",
				"systemctl cat kubelet",
			} {
				if !slices.Contains(calls, want) {
					t.Errorf("no call %q in %q", want, calls)
				}
			}
			// The automount is triggered before findmnt looks at it.
			if i, j := slices.Index(calls, "ls -A -- /mnt/nfs"), slices.Index(calls, "findmnt -n -l -o FSTYPE --mountpoint /mnt/nfs"); i > j {
				t.Errorf("findmnt ran before ls: %q", calls)
			}
			if nodeReadyHasCall(calls, "cloud-init status --long") {
				t.Errorf("status --long read although cloud-init succeeded: %q", calls)
			}
		})
	}
}

func TestScriptNodeReady_NFSNotMounted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   []string
		wants []string
	}{
		{"only autofs", []string{"FAKE_FINDMNT=autofs"}, []string{"/mnt/nfs", "found only autofs"}},
		{"other fs", []string{"FAKE_FINDMNT=autofs ext4"}, []string{"found only autofs+ext4"}},
		{"nothing and access fails", []string{"FAKE_FINDMNT=", "FAKE_LS_ERR=ls: cannot access '/mnt/nfs': No such device"},
			[]string{"nothing is mounted at /mnt/nfs", "accessing it failed: ls: cannot access '/mnt/nfs': No such device"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			res := f.run(t, f.env(tc.env...), "n1", "/mnt/nfs", "yes", "300")
			nodeReadyExpectFailures(t, res, map[string][]string{"nfs": tc.wants})
			scriptMustContain(t, "stderr", res.stderr,
				"node n1 not ready: 1 check failed (nfs); passed: cloud-init done, overlay+br_netfilter loaded, sysctls set, containerd active, swap on (kubelet --fail-swap-on=false)\n")
		})
	}
}

func TestScriptNodeReady_NFSMountedButUnreadable(t *testing.T) {
	// Listing may be refused (export permissions) once the automount has
	// mounted the share: only the mount counts.
	f := nodeReadyNewFixture(t)
	res := f.run(t, f.env("FAKE_LS_ERR=ls: cannot open directory '/srv/nfs': Permission denied"), "n1", "/srv/nfs", "yes", "300")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	scriptMustContain(t, "stdout", res.stdout, "nfs mounted at /srv/nfs")
}

func TestScriptNodeReady_SeveralFailures(t *testing.T) {
	f := nodeReadyNewFixture(t)
	if err := os.RemoveAll(filepath.Join(f.sys, "module", "br_netfilter")); err != nil {
		t.Fatal(err)
	}
	f.sysctl(t, "net/ipv4/ip_forward", "0")
	res := f.run(t, f.env("FAKE_CONTAINERD=inactive"), "n1", "/mnt/nfs", "yes", "300")
	nodeReadyExpectFailures(t, res, map[string][]string{
		"kernel modules": {"not loaded: br_netfilter"},
		"sysctls":        {"net.ipv4.ip_forward is 0, want 1"},
		"containerd":     {"containerd is inactive"},
	})
	if got := nodeReadyFailures(t, res.stderr)["kernel modules"]; strings.Contains(got, "overlay") {
		t.Errorf("overlay reported missing: %q", got)
	}
	scriptMustContain(t, "stderr", res.stderr,
		"node n1 not ready: 3 checks failed (kernel modules, sysctls, containerd); passed: cloud-init done, nfs mounted at /mnt/nfs, swap on")
}

func TestScriptNodeReady_SysctlsMissing(t *testing.T) {
	f := nodeReadyNewFixture(t)
	if err := os.RemoveAll(filepath.Join(f.proc, "sys", "net", "bridge")); err != nil {
		t.Fatal(err)
	}
	res := f.run(t, f.env(), "n1", "-", "yes", "300")
	nodeReadyExpectFailures(t, res, map[string][]string{
		"sysctls": {"net.bridge.bridge-nf-call-iptables does not exist", "net.bridge.bridge-nf-call-ip6tables does not exist"},
	})
}

const nodeReadyCloudInitErrorLong = `status: error
extended_status: error - done
boot_status_code: enabled-by-generator
last_update: Thu, 01 Jan 1970 00:00:41 +0000
detail: DataSourceNoCloud [seed=/dev/sr0][dsmode=net]
errors:
	- ('scripts_user', RuntimeError('Runparts: 1 failures (part-001) in 1 attempted commands'))
recoverable_errors:
WARNING:
	- Failed to run module scripts_user (scripts in /var/lib/cloud/instance/scripts)`

func TestScriptNodeReady_CloudInitError(t *testing.T) {
	for _, tc := range []struct {
		name, long string
		wants      []string
	}{
		{"current format", nodeReadyCloudInitErrorLong, []string{
			"cloud-init finished with an error: status: error",
			"detail: DataSourceNoCloud [seed=/dev/sr0][dsmode=net]",
			"errors: - ('scripts_user', RuntimeError('Runparts: 1 failures (part-001) in 1 attempted commands'))",
			"recoverable_errors: WARNING: - Failed to run module scripts_user",
		}},
		{"old format", "status: error\ntime: Thu, 01 Jan 1970 00:00:41 +0000\n\ndetail:\n('ssh-authkey-fingerprints', KeyError('getpwnam(): name not found'))\n",
			[]string{"status: error; detail: ('ssh-authkey-fingerprints', KeyError('getpwnam(): name not found'))"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			res := f.run(t, f.env("FAKE_CI_RC=1", "FAKE_CI_LONG="+tc.long), "n1", "/mnt/nfs", "yes", "300")
			got := nodeReadyExpectFailures(t, res, map[string][]string{"cloud-init": tc.wants})
			for _, noise := range []string{"boot_status_code", "last_update", "time:", "\t"} {
				if strings.Contains(got["cloud-init"], noise) {
					t.Errorf("cloud-init failure quotes %q: %q", noise, got["cloud-init"])
				}
			}
			scriptMustContain(t, "stderr", res.stderr, "passed: nfs mounted at /mnt/nfs, overlay+br_netfilter loaded")
		})
	}
}

func TestScriptNodeReady_CloudInitDegraded(t *testing.T) {
	f := nodeReadyNewFixture(t)
	long := strings.Replace(nodeReadyCloudInitErrorLong, "errors:\n\t- ('scripts_user', RuntimeError('Runparts: 1 failures (part-001) in 1 attempted commands'))\n", "errors: []\n", 1)
	long = strings.Replace(long, "status: error\n", "status: degraded done\n", 1)
	res := f.run(t, f.env("FAKE_CI_RC=2", "FAKE_CI_LONG="+long), "n1", "/mnt/nfs", "yes", "300")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	want := strings.Replace(nodeReadyAllGood, "cloud-init done", "cloud-init done (with recoverable errors)", 1)
	if res.stdout != want {
		t.Errorf("stdout = %q\nwant     %q", res.stdout, want)
	}
	if failures := nodeReadyFailures(t, res.stderr); len(failures) != 0 {
		t.Errorf("failures reported: %q", failures)
	}
	scriptMustContain(t, "stderr", res.stderr,
		"node n1: warning: cloud-init finished with recoverable errors: status: degraded done",
		"recoverable_errors: WARNING: - Failed to run module scripts_user")
	if strings.Contains(res.stderr, "errors: []") {
		t.Errorf("empty errors entry quoted: %q", res.stderr)
	}
}

func TestScriptNodeReady_CloudInitTimeout(t *testing.T) {
	f := nodeReadyNewFixture(t)
	res := f.run(t, f.env("FAKE_CI_SLEEP=30", "FAKE_CI_LONG=status: running\nextended_status: running\ndetail: DataSourceNoCloud [seed=/dev/sr0][dsmode=net]"),
		"n1", "/mnt/nfs", "yes", "1")
	nodeReadyExpectFailures(t, res, map[string][]string{
		"cloud-init": {"did not finish within 1 s", "status: running"},
	})
	if res.took > 10*time.Second {
		t.Errorf("took %v with a 1 s timeout", res.took)
	}
}

func TestScriptNodeReady_CloudInitMissing(t *testing.T) {
	f := nodeReadyNewFixture(t)
	if err := os.Remove(filepath.Join(f.bin, "cloud-init")); err != nil {
		t.Fatal(err)
	}
	res := f.run(t, f.env(), "n1", "/mnt/nfs", "no", "300")
	// swap=no while the fixture has swap: two failures.
	nodeReadyExpectFailures(t, res, map[string][]string{
		"cloud-init": {"cannot run cloud-init", "No such file or directory", "environment.systemPackages"},
		"swap":       {"swap is active (/dev/dm-1)"},
	})
}

func TestScriptNodeReady_Swap(t *testing.T) {
	for _, tc := range []struct {
		name, swap, entries string
		env                 []string
		fail                []string // wants in the swap failure; nil: passes
		summary             string
	}{
		{name: "yes with swap and flag", swap: "yes", entries: nodeReadySwapEntry, summary: "swap on (kubelet --fail-swap-on=false)"},
		{name: "yes but kubelet lacks flag", swap: "yes", entries: nodeReadySwapEntry, env: []string{"FAKE_KUBELET_ARGS="},
			fail: []string{"does not pass --fail-swap-on=false"}},
		{name: "yes but no kubelet unit", swap: "yes", entries: nodeReadySwapEntry, env: []string{"FAKE_KUBELET_MISSING=1"},
			fail: []string{"no kubelet unit"}},
		{name: "yes but no swap active", swap: "yes", entries: "",
			fail: []string{"no active swap"}},
		{name: "no but swap active", swap: "no", entries: nodeReadySwapEntry + "/swapfile                               file\t1048572\t\t0\t\t-3\n",
			fail: []string{"swap is active (/dev/dm-1, /swapfile)", "kubelet refuses to start"}},
		{name: "no and none active", swap: "no", entries: "", summary: "swap off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			f.swaps(t, tc.entries)
			res := f.run(t, f.env(tc.env...), "n1", "/mnt/nfs", tc.swap, "300")
			if tc.fail != nil {
				nodeReadyExpectFailures(t, res, map[string][]string{"swap": tc.fail})
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			if !strings.HasSuffix(res.stdout, ", containerd active, "+tc.summary+"\n") {
				t.Errorf("stdout = %q, want it to end with %q", res.stdout, tc.summary)
			}
			if tc.swap == "no" && nodeReadyHasCall(f.callList(t), "systemctl cat kubelet") {
				t.Errorf("kubelet unit read although swap=no")
			}
		})
	}
}

func TestScriptNodeReady_NoNFS(t *testing.T) {
	f := nodeReadyNewFixture(t)
	f.swaps(t, "")
	res := f.run(t, f.env(), "n1", "-", "no", "300")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	want := "node n1 ready: cloud-init done, nfs skipped (none configured), overlay+br_netfilter loaded, sysctls set, containerd active, swap off\n"
	if res.stdout != want {
		t.Errorf("stdout = %q\nwant     %q", res.stdout, want)
	}
	calls := f.callList(t)
	for _, tool := range []string{"findmnt", "ls", "timeout --kill-after=5 60"} {
		if nodeReadyHasCall(calls, tool+" ") {
			t.Errorf("%s called without an NFS mount point: %q", tool, calls)
		}
	}
}

func TestScriptNodeReady_InvalidArgs(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"n1", "/mnt/nfs", "yes"},
		{"n1", "/mnt/nfs", "yes", "300", "extra"},
		{"", "/mnt/nfs", "yes", "300"},
		{"-n1", "/mnt/nfs", "yes", "300"},
		{"n1;reboot", "/mnt/nfs", "yes", "300"},
		{"n 1", "/mnt/nfs", "yes", "300"},
		{"n1", "mnt/nfs", "yes", "300"},
		{"n1", "", "yes", "300"},
		{"n1", "/mnt/nfs\n", "yes", "300"},
		{"n1", "/mnt/nfs", "true", "300"},
		{"n1", "/mnt/nfs", "", "300"},
		{"n1", "/mnt/nfs", "yes", "0"},
		{"n1", "/mnt/nfs", "yes", "-5"},
		{"n1", "/mnt/nfs", "yes", "5s"},
		{"n1", "/mnt/nfs", "yes", ""},
	} {
		f := nodeReadyNewFixture(t)
		res := f.run(t, f.env(), args...)
		if res.code != 2 || !strings.Contains(res.stderr, "usage: node-ready <nodeName>") {
			t.Errorf("args %q: exit %d, stderr %q; want usage and exit 2", args, res.code, res.stderr)
		}
		if res.stdout != "" {
			t.Errorf("args %q: stdout = %q", args, res.stdout)
		}
		if calls := f.callList(t); len(calls) != 0 {
			t.Errorf("args %q: commands ran: %q", args, calls)
		}
	}
}

func TestScriptNodeReady_ValidNames(t *testing.T) {
	for _, name := range []string{"k8s-node-1", "A", "node.lab", "9x"} {
		f := nodeReadyNewFixture(t)
		res := f.run(t, f.env(), name, "/mnt/my nfs", "yes", "300")
		if res.code != 0 {
			t.Errorf("name %q: exit %d", name, res.code)
		}
		scriptMustContain(t, "stdout", res.stdout, "node "+name+" ready: ", "nfs mounted at /mnt/my nfs")
	}
}
