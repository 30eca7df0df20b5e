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

// nodeReadyFakeCloudInit behaves like canonical/cloud-init 24.x
// cloudinit/cmd/status.py (handle_status_args, print_status,
// translate_status): `status --wait` prints progress dots while it waits,
// then "\nstatus: <status>", and exits 1 for an error, 2 for recoverable
// errors ("degraded done": status stays "done", only extended_status says
// degraded), else 0 - also when cloud-init is disabled (status: disabled).
// $FAKE_CI_RC (default 0) picks the condition, FAKE_CI_DISABLED=1 a disabled
// cloud-init, $FAKE_CI_SLEEP seconds of waiting first. `status --long`
// prints $FAKE_CI_LONG (default: the output of a finished healthy run).
const nodeReadyFakeCloudInit = `
printf 'cloud-init %s\n' "$*" >>"$FAKE_CALLS"
case "$*" in
  "status --wait")
    if [[ -n "${FAKE_CI_SLEEP:-}" ]]; then printf '...'; exec sleep "$FAKE_CI_SLEEP"; fi
    rc="${FAKE_CI_RC:-0}"
    status=done
    [[ "$rc" != 1 ]] || status=error
    [[ -z "${FAKE_CI_DISABLED:-}" ]] || status=disabled
    printf '....\nstatus: %s\n' "$status"
    exit "$rc"
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

// nodeReadyFakeLs fails with $FAKE_LS_ERR when that is set, with exit 2 like
// GNU ls for an argument it cannot access (coreutils src/ls.c: LS_FAILURE,
// "serious trouble"). With FAKE_LS_HANG=1 it never returns, as ls does on an
// automount whose NFS server does not answer (a hard mount blocks in the
// kernel).
const nodeReadyFakeLs = `
printf 'ls %s\n' "$*" >>"$FAKE_CALLS"
if [[ -n "${FAKE_LS_HANG:-}" ]]; then
  exec sleep 300
fi
if [[ -n "${FAKE_LS_ERR:-}" ]]; then
  echo "$FAKE_LS_ERR" >&2
  exit 2
fi
echo "some-file"
`

// nodeReadyFakeFindmnt: for `--mountpoint /` it prints $FAKE_ROOT_FS
// (default nodeReadyRootFS), the pairs line of util-linux 2.39 findmnt -P;
// for other mount points the words of $FAKE_FINDMNT (default: an automount
// that has been mounted), one a line, failing like findmnt (exit 1) when
// there are none (findmnt(8), EXIT STATUS: 1 when no filesystem was found).
// With $FAKE_FINDMNT_ERR, `--mountpoint /` fails as findmnt does when it cannot read the
// mount table (util-linux misc-utils/findmnt.c parse_tabfile: warn "can't
// read <path>", exit 1).
const nodeReadyFakeFindmnt = `
printf 'findmnt %s\n' "$*" >>"$FAKE_CALLS"
if [[ "${*: -1}" == / ]]; then
  if [[ -n "${FAKE_FINDMNT_ERR:-}" ]]; then
    printf 'findmnt: %s\n' "$FAKE_FINDMNT_ERR" >&2
    exit 1
  fi
  [[ -n "$FAKE_ROOT_FS" ]] || exit 1
  printf '%s\n' "$FAKE_ROOT_FS"
  exit 0
fi
out="${FAKE_FINDMNT-autofs nfs4}"
[[ -n "$out" ]] || exit 1
printf '%s\n' $out
`

// nodeReadyFakeLsblk prints $FAKE_LSBLK: `lsblk -b -n -p -P -o
// NAME,KNAME,MAJ:MIN,TYPE,SIZE,PKNAME` output (util-linux
// misc-utils/lsblk.c: one KEY="value" line per device and parent, sizes in
// bytes with -b, full paths with -p also for PKNAME).
const nodeReadyFakeLsblk = `
printf 'lsblk %s\n' "$*" >>"$FAKE_CALLS"
printf '%s\n' "$FAKE_LSBLK"
`

// nodeReadyFakeSystemctl: containerd's state is $FAKE_CONTAINERD (default
// active); the kubelet unit passes $FAKE_KUBELET_ARGS (default
// --config-dir=/etc/kubernetes/kubelet.conf.d) and is missing with
// FAKE_KUBELET_MISSING=1. `show --property=LoadState,ActiveState,Result
// nixlab-grow-root.service` prints the Key=Value lines of $FAKE_GROW (default
// a oneshot with RemainAfterExit after success); like systemd's systemctl
// show it exits 0 and prints LoadState=not-found for a unit that does not
// exist.
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
    printf '# /etc/systemd/system/kubelet.service\n[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n\n[Service]\nEnvironment="KUBELET_NIXLAB_ARGS=%s"\nExecStart=/nix/store/abc-kubernetes/bin/kubelet $KUBELET_CONFIG_ARGS $KUBELET_NIXLAB_ARGS\n' "${FAKE_KUBELET_ARGS---config-dir=/etc/kubernetes/kubelet.conf.d}"
    ;;
  "show --property=LoadState,ActiveState,Result nixlab-grow-root.service")
    printf '%s\n' "${FAKE_GROW:-Result=success
LoadState=loaded
ActiveState=active}"
    ;;
  *)
    echo "fake systemctl: unexpected: $*" >&2
    exit 64
    ;;
esac
`

// nodeReadyDisk describes a root disk as lsblk and findmnt report it: a GPT
// disk with a 1 MiB BIOS boot partition and the LVM PV partition 2
// (volume group nixos-vg: LVs root and, unless swap is 0, swap), all sizes
// in bytes.
type nodeReadyDisk struct {
	disk, part2, root, swap, fs int64
	majMinKey                   string // "MAJ:MIN" (default) or "MAJ_MIN"
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// nodeReadyGrown is a 40 GiB clone of a 20 GiB template after a good boot:
// partition 2 ends at the last usable GPT sector, the PV's 4 MiB extents
// (after 1 MiB of metadata) all belong to swap (2 GiB) and root, and ext4's
// statfs size is 98.4 % of its LV.
func nodeReadyGrown() nodeReadyDisk {
	disk := 40 * gib
	part2 := disk - 2*mib - 33*512
	extents := (part2 - mib) / (4 * mib) * (4 * mib)
	root := extents - 2*gib
	return nodeReadyDisk{disk: disk, part2: part2, root: root, swap: 2 * gib, fs: root / 1000 * 984}
}

func (d nodeReadyDisk) lsblk() string {
	k := d.majMinKey
	if k == "" {
		k = "MAJ:MIN"
	}
	line := func(name, kname, majmin, typ string, size int64, parent string) string {
		return fmt.Sprintf("NAME=%q KNAME=%q %s=%q TYPE=%q SIZE=\"%d\" PKNAME=%q\n", name, kname, k, majmin, typ, size, parent)
	}
	out := line("/dev/sda", "/dev/sda", "8:0", "disk", d.disk, "") +
		line("/dev/sda1", "/dev/sda1", "8:1", "part", mib, "/dev/sda") +
		line("/dev/sda2", "/dev/sda2", "8:2", "part", d.part2, "/dev/sda") +
		line("/dev/mapper/nixos--vg-root", "/dev/dm-0", "254:0", "lvm", d.root, "/dev/sda2")
	if d.swap > 0 {
		out += line("/dev/mapper/nixos--vg-swap", "/dev/dm-1", "254:1", "lvm", d.swap, "/dev/sda2")
	}
	return out + line("/dev/sr0", "/dev/sr0", "11:0", "rom", 4*mib, "")
}

func (d nodeReadyDisk) findmnt() string {
	k := d.majMinKey
	if k == "" {
		k = "MAJ:MIN"
	}
	return fmt.Sprintf("SOURCE=\"/dev/mapper/nixos--vg-root\" %s=\"254:0\" SIZE=\"%d\"", k, d.fs)
}

// env returns the fake settings for this disk.
func (d nodeReadyDisk) env() []string {
	return []string{"FAKE_LSBLK=" + d.lsblk(), "FAKE_ROOT_FS=" + d.findmnt()}
}

// nodeReadySwapDropin is the kubelet drop-in the node image writes when
// swap is enabled.
const nodeReadySwapDropin = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: false\nmemorySwap:\n  swapBehavior: NoSwap\n"

const nodeReadySwapHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
const nodeReadySwapEntry = "/dev/dm-1                               partition\t4194300\t\t0\t\t-2\n"

const nodeReadyAllGood = "node n1 ready: cloud-init done, hostname n1, nfs mounted at /mnt/nfs, root disk grown (40.0 GiB), " +
	"overlay+br_netfilter loaded, sysctls set, containerd active, swap on (kubelet failSwapOn: false)\n"

// nodeReadyFixture holds fake commands and fake /proc and /sys trees of a
// healthy node with swap.
type nodeReadyFixture struct {
	dir, bin, tools, proc, sys, etc, calls string
}

func nodeReadyNewFixture(t *testing.T) nodeReadyFixture {
	t.Helper()
	dir := t.TempDir()
	f := nodeReadyFixture{
		dir:   dir,
		bin:   filepath.Join(dir, "bin"),
		proc:  filepath.Join(dir, "proc"),
		sys:   filepath.Join(dir, "sys"),
		etc:   filepath.Join(dir, "etc"),
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
	// $FAKE_TIMEOUT_CAP shortens the duration (the first plain number)
	// that reaches the real timeout, so its expiry (SIGTERM, exit 124) is
	// tested in seconds; the call is recorded as the script made it.
	testutil.WriteFake(t, f.bin, "timeout", fmt.Sprintf(`printf 'timeout %%s\n' "$*" >>"$FAKE_CALLS"
args=("$@")
if [[ -n "${FAKE_TIMEOUT_CAP:-}" ]]; then
  for i in "${!args[@]}"; do
    if [[ "${args[$i]}" =~ ^[0-9]+$ ]]; then args[$i]="$FAKE_TIMEOUT_CAP"; break; fi
  done
fi
exec %q "${args[@]}"
`, realTimeout))
	testutil.WriteFake(t, f.bin, "cloud-init", nodeReadyFakeCloudInit)
	testutil.WriteFake(t, f.bin, "ls", nodeReadyFakeLs)
	testutil.WriteFake(t, f.bin, "findmnt", nodeReadyFakeFindmnt)
	testutil.WriteFake(t, f.bin, "systemctl", nodeReadyFakeSystemctl)
	testutil.WriteFake(t, f.bin, "lsblk", nodeReadyFakeLsblk)
	scriptWriteFile(t, filepath.Join(f.proc, "sys", "kernel", "hostname"), "n1\n")
	scriptWriteFile(t, f.swapDropin(), nodeReadySwapDropin)
	for _, m := range []string{"overlay", "br_netfilter", "nf_conntrack"} {
		scriptWriteFile(t, filepath.Join(f.sys, "module", m, "refcnt"), "0\n")
	}
	for _, key := range []string{"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables", "net/ipv4/ip_forward"} {
		f.sysctl(t, key, "1")
	}
	f.swaps(t, nodeReadySwapEntry)
	return f
}

// hostname sets the fake kernel hostname.
func (f nodeReadyFixture) hostname(t *testing.T, name string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(f.proc, "sys", "kernel", "hostname"), name+"\n")
}

// swapDropin is the path of the kubelet's swap drop-in in the fake /etc.
func (f nodeReadyFixture) swapDropin() string {
	return filepath.Join(f.etc, "kubernetes", "kubelet.conf.d", "50-nixlab-swap.conf")
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
		"NIXLAB_ETC_ROOT=" + f.etc,
	}, append(nodeReadyGrown().env(), extra...)...)
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
				"systemctl show --property=LoadState,ActiveState,Result nixlab-grow-root.service",
				"findmnt -n -b -P -o SOURCE,MAJ:MIN,SIZE --mountpoint /",
				"lsblk -b -n -p -P -o NAME,KNAME,MAJ:MIN,TYPE,SIZE,PKNAME",
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
		// The server does not answer: timeout ends ls (exit 124).
		{"access hangs", []string{"FAKE_FINDMNT=autofs", "FAKE_LS_HANG=1", "FAKE_TIMEOUT_CAP=1"},
			[]string{"no nfs/nfs4 filesystem at /mnt/nfs, found only autofs; accessing it did not finish within 60 s (NFS server unreachable?)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			res := f.run(t, f.env(tc.env...), "n1", "/mnt/nfs", "yes", "300")
			nodeReadyExpectFailures(t, res, map[string][]string{"nfs": tc.wants})
			scriptMustContain(t, "stderr", res.stderr,
				"node n1 not ready: 1 check failed (nfs); passed: cloud-init done, hostname n1, root disk grown (40.0 GiB), overlay+br_netfilter loaded, sysctls set, containerd active, swap on (kubelet failSwapOn: false)\n")
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
		"node n1 not ready: 3 checks failed (kernel modules, sysctls, containerd); passed: cloud-init done, hostname n1, nfs mounted at /mnt/nfs, root disk grown (40.0 GiB), swap on")
}

// TestScriptNodeReady_EverythingFails: a node that keeps none of the
// promises (not a nixlab image) reports every check, and the last line names
// them all without an empty "passed:" list.
func TestScriptNodeReady_EverythingFails(t *testing.T) {
	f := nodeReadyNewFixture(t)
	f.hostname(t, "nixos")
	for _, m := range []string{"overlay", "br_netfilter"} {
		if err := os.RemoveAll(filepath.Join(f.sys, "module", m)); err != nil {
			t.Fatal(err)
		}
	}
	f.sysctl(t, "net/ipv4/ip_forward", "0")
	f.swaps(t, "")
	res := f.run(t, f.env("FAKE_CI_RC=1", "FAKE_FINDMNT=", "FAKE_CONTAINERD=inactive", "FAKE_KUBELET_MISSING=1",
		"FAKE_GROW=LoadState=not-found\nActiveState=inactive\nResult=success"), "n1", "/mnt/nfs", "yes", "300")
	nodeReadyExpectFailures(t, res, map[string][]string{
		"cloud-init":     {"cloud-init finished with an error"},
		"hostname":       {"the hostname is 'nixos', not 'n1'"},
		"nfs":            {"nothing is mounted at /mnt/nfs"},
		"disk":           {"nixlab-grow-root.service is not installed"},
		"kernel modules": {"not loaded: overlay, br_netfilter"},
		"sysctls":        {"net.ipv4.ip_forward is 0, want 1"},
		"containerd":     {"containerd is inactive"},
		"swap":           {"no active swap", "no kubelet unit"},
	})
	want := "node n1 not ready: 8 checks failed (cloud-init, hostname, nfs, disk, kernel modules, sysctls, containerd, swap)\n"
	if !strings.HasSuffix(res.stderr, want) {
		t.Errorf("last line of stderr is not %q:\n%s", want, res.stderr)
	}
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
			scriptMustContain(t, "stderr", res.stderr, "passed: hostname n1, nfs mounted at /mnt/nfs, root disk grown (40.0 GiB), overlay+br_netfilter loaded")
		})
	}
}

func TestScriptNodeReady_CloudInitDegraded(t *testing.T) {
	f := nodeReadyNewFixture(t)
	long := strings.Replace(nodeReadyCloudInitErrorLong, "errors:\n\t- ('scripts_user', RuntimeError('Runparts: 1 failures (part-001) in 1 attempted commands'))\n", "errors: []\n", 1)
	// A degraded run as cloud-init prints it: status stays "done"
	// (translate_status), extended_status says "degraded done".
	long = strings.Replace(long, "status: error\nextended_status: error - done\n", "status: done\nextended_status: degraded done\n", 1)
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
	// Exactly the warning: the empty errors entry is left out, not quoted
	// as an empty item.
	if want := "node n1: warning: cloud-init finished with recoverable errors: status: done; extended_status: degraded done; " +
		"detail: DataSourceNoCloud [seed=/dev/sr0][dsmode=net]; " +
		"recoverable_errors: WARNING: - Failed to run module scripts_user (scripts in /var/lib/cloud/instance/scripts)\n"; res.stderr != want {
		t.Errorf("stderr = %q\nwant     %q", res.stderr, want)
	}
}

// TestScriptNodeReady_CloudInitDetailLength: what is quoted from cloud-init
// is cut at MAX_DETAIL (1500) characters, marked with "..."; a detail of
// exactly that length is quoted whole.
func TestScriptNodeReady_CloudInitDetailLength(t *testing.T) {
	const prefix = "status: error; detail: " // what the quoted entries start with
	for _, tc := range []struct {
		name string
		n    int // length of the detail line's text
		want string
	}{
		{"exactly 1500", 1500 - len(prefix), prefix + strings.Repeat("x", 1500-len(prefix))},
		{"1501", 1501 - len(prefix), prefix + strings.Repeat("x", 1500-len(prefix)) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			long := "status: error\ndetail: " + strings.Repeat("x", tc.n)
			res := f.run(t, f.env("FAKE_CI_RC=1", "FAKE_CI_LONG="+long), "n1", "/mnt/nfs", "yes", "300")
			got := nodeReadyExpectFailures(t, res, map[string][]string{"cloud-init": nil})
			if want := "cloud-init finished with an error: " + tc.want; got["cloud-init"] != want {
				t.Errorf("cloud-init failure has %d characters, want %d:\n%q", len(got["cloud-init"]), len(want), got["cloud-init"])
			}
		})
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
		dropin              string // "": the default; "-": none
		env                 []string
		fail                []string // wants in the swap failure; nil: passes
		summary             string
	}{
		{name: "yes with swap, drop-in and flag", swap: "yes", entries: nodeReadySwapEntry, summary: "swap on (kubelet failSwapOn: false)"},
		{name: "yes with a JSON drop-in and a spaced flag", swap: "yes", entries: nodeReadySwapEntry,
			dropin:  `{"apiVersion":"kubelet.config.k8s.io/v1beta1","failSwapOn":false,"kind":"KubeletConfiguration"}`,
			env:     []string{"FAKE_KUBELET_ARGS=--config-dir /etc/kubernetes/kubelet.conf.d/ --v=2"},
			summary: "swap on (kubelet failSwapOn: false)"},
		{name: "yes but kubelet lacks --config-dir", swap: "yes", entries: nodeReadySwapEntry, env: []string{"FAKE_KUBELET_ARGS=--fail-swap-on=false"},
			fail: []string{"the kubelet unit does not pass --config-dir=/etc/kubernetes/kubelet.conf.d", "failSwapOn: false"}},
		{name: "yes but --config-dir elsewhere", swap: "yes", entries: nodeReadySwapEntry, env: []string{"FAKE_KUBELET_ARGS=--config-dir=/etc/kubernetes/kubelet.conf.d.old"},
			fail: []string{"does not pass --config-dir="}},
		{name: "yes but no drop-in", swap: "yes", entries: nodeReadySwapEntry, dropin: "-",
			fail: []string{"kubelet.conf.d/50-nixlab-swap.conf does not exist"}},
		{name: "yes but drop-in keeps failSwapOn", swap: "yes", entries: nodeReadySwapEntry,
			dropin: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# failSwapOn: false\nfailSwapOn: true\n",
			fail:   []string{"50-nixlab-swap.conf does not set failSwapOn: false"}},
		{name: "yes but drop-in of another kind", swap: "yes", entries: nodeReadySwapEntry,
			dropin: "apiVersion: v1\nkind: ConfigMap\nfailSwapOn: false\n",
			fail:   []string{"50-nixlab-swap.conf is not a KubeletConfiguration"}},
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
			switch tc.dropin {
			case "":
			case "-":
				if err := os.Remove(f.swapDropin()); err != nil {
					t.Fatal(err)
				}
			default:
				scriptWriteFile(t, f.swapDropin(), tc.dropin)
			}
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
	want := "node n1 ready: cloud-init done, hostname n1, nfs skipped (none configured), root disk grown (40.0 GiB), overlay+br_netfilter loaded, sysctls set, containerd active, swap off\n"
	if res.stdout != want {
		t.Errorf("stdout = %q\nwant     %q", res.stdout, want)
	}
	calls := f.callList(t)
	for _, tool := range []string{"findmnt -n -l -o FSTYPE", "ls", "timeout --kill-after=5 60"} {
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
		f.hostname(t, name)
		res := f.run(t, f.env(), name, "/mnt/my nfs", "yes", "300")
		if res.code != 0 {
			t.Errorf("name %q: exit %d", name, res.code)
		}
		scriptMustContain(t, "stdout", res.stdout, "node "+name+" ready: ", "nfs mounted at /mnt/my nfs")
	}
}

func TestScriptNodeReady_CloudInitDisabled(t *testing.T) {
	// `cloud-init status --wait` returns at once with exit 0 and "status:
	// disabled" when cloud-init is disabled (get_running_status,
	// handle_status_args): that must not read as "cloud-init done".
	f := nodeReadyNewFixture(t)
	long := "status: disabled\nextended_status: disabled\nboot_status_code: disabled-by-marker-file\ndetail: Cloud-init disabled by /etc/cloud/cloud-init.disabled\nerrors: []\nrecoverable_errors: {}"
	res := f.run(t, f.env("FAKE_CI_DISABLED=1", "FAKE_CI_LONG="+long), "n1", "/mnt/nfs", "yes", "300")
	got := nodeReadyExpectFailures(t, res, map[string][]string{"cloud-init": {
		"cloud-init is disabled, so it never applied the node's hostname",
		"boot_status_code: disabled-by-marker-file",
		"detail: Cloud-init disabled by /etc/cloud/cloud-init.disabled",
	}})
	// The quoted entries end with the last non-empty one: the empty
	// errors and recoverable_errors at the end are left out.
	if want := "(status: disabled; extended_status: disabled; boot_status_code: disabled-by-marker-file; detail: Cloud-init disabled by /etc/cloud/cloud-init.disabled); check that"; !strings.Contains(got["cloud-init"], want) {
		t.Errorf("cloud-init failure %q does not quote exactly %q", got["cloud-init"], want)
	}
	if strings.Contains(res.stdout+res.stderr, "cloud-init done") {
		t.Errorf("a disabled cloud-init reported as done: %q", res.stderr)
	}
}

func TestScriptNodeReady_CloudInitWaitStatus(t *testing.T) {
	// What --wait printed decides, not only its exit code.
	for _, tc := range []struct {
		name, out string
		rc        int
		pass      bool
		want      string
	}{
		{"done without waiting", "\nstatus: done", 0, true, ""},
		{"done after dots", "........\nstatus: done", 0, true, ""},
		{"degraded done", "..\nstatus: done", 2, true, ""},
		{"disabled and degraded", "\nstatus: disabled", 2, false, "cloud-init is disabled"},
		{"no status line", "Failed to get status from systemd.", 0, false, "exited with 0 but reported no status"},
		{"unknown status", "\nstatus: not started", 0, false, "exited with 0 but reported status: not started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			out := filepath.Join(f.dir, "wait-output")
			scriptWriteFile(t, out, tc.out+"\n")
			testutil.WriteFake(t, f.bin, "cloud-init", fmt.Sprintf(`printf 'cloud-init %%s\n' "$*" >>"$FAKE_CALLS"
if [[ "$*" == "status --wait" ]]; then while IFS= read -r l; do printf '%%s\n' "$l"; done <%q; exit %d; fi
printf 'status: done\nextended_status: degraded done\n'
`, out, tc.rc))
			res := f.run(t, f.env(), "n1", "/mnt/nfs", "yes", "300")
			if tc.pass {
				if res.code != 0 {
					t.Fatalf("exit %d", res.code)
				}
				return
			}
			nodeReadyExpectFailures(t, res, map[string][]string{"cloud-init": {tc.want}})
		})
	}
}

func TestScriptNodeReady_Hostname(t *testing.T) {
	for _, tc := range []struct {
		name, node, hostname string
		fail                 []string
	}{
		{"set", "nixlab-workers-1", "nixlab-workers-1", nil},
		{"case differs", "Node-1", "node-1", nil},
		{"short name of a dotted node name", "node1.lab", "node1", nil},
		{"left at the image's name", "nixlab-workers-1", "nixos", []string{"the hostname is 'nixos', not 'nixlab-workers-1'", "cloud-init did not set it"}},
		{"another node's name", "nixlab-workers-1", "nixlab-workers-10", []string{"the hostname is 'nixlab-workers-10'"}},
		{"unreadable", "n1", "", []string{"cannot read the hostname"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			if tc.hostname == "" {
				if err := os.Remove(filepath.Join(f.proc, "sys", "kernel", "hostname")); err != nil {
					t.Fatal(err)
				}
			} else {
				f.hostname(t, tc.hostname)
			}
			res := f.run(t, f.env(), tc.node, "/mnt/nfs", "yes", "300")
			if tc.fail == nil {
				if res.code != 0 {
					t.Fatalf("exit %d", res.code)
				}
				scriptMustContain(t, "stdout", res.stdout, ", hostname "+tc.hostname+", ")
				return
			}
			if res.code != 1 {
				t.Errorf("exit %d, want 1", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, append([]string{"node " + tc.node + ": hostname failed: "}, tc.fail...)...)
		})
	}
}

func TestScriptNodeReady_Disk(t *testing.T) {
	grown := nodeReadyGrown()
	notGrownPart := grown
	notGrownPart.part2 = 20*gib - 2*mib - 33*512 // the template's partition
	notGrownPart.root = (notGrownPart.part2-mib)/(4*mib)*(4*mib) - 2*gib
	notGrownPart.fs = notGrownPart.root / 1000 * 984
	mbr := grown // a 3 TiB disk with an msdos label: the partition stops at 2 TiB
	mbr.disk = 3 << 40
	mbr.part2 = 2<<40 - 2*mib
	mbr.root = (mbr.part2-mib)/(4*mib)*(4*mib) - 2*gib
	mbr.fs = mbr.root / 1000 * 984
	noLVExtend := grown // pvresize/lvextend did not run
	noLVExtend.root = 18 * gib
	noLVExtend.fs = noLVExtend.root / 1000 * 984
	noResize := grown // resize2fs did not run
	noResize.fs = 18 * gib / 1000 * 984
	atTolerance := grown // a little unused space is fine
	atTolerance.root -= 59 * mib
	overTolerance := grown // 64 MiB (DISK_SLACK_BYTES) is the limit
	overTolerance.root -= 65 * mib
	noSwap := grown
	noSwap.root += noSwap.swap
	noSwap.swap = 0
	newUtilLinux := grown
	newUtilLinux.majMinKey = "MAJ_MIN"
	// The tolerances are inclusive: exactly DISK_SLACK_BYTES unused (or a
	// filesystem of exactly FS_MIN_PERCENT of its LV) passes, one byte
	// more (less) fails.
	partAtSlack := grown // 64 MiB after partition 2
	partAtSlack.part2 = grown.disk - mib - 64*mib
	partAtSlack.root = (partAtSlack.part2-mib)/(4*mib)*(4*mib) - 2*gib
	partAtSlack.fs = partAtSlack.root / 1000 * 984
	partOverSlack := partAtSlack
	partOverSlack.part2--
	lvAtSlack := grown // 64 MiB of the PV partition in no LV
	lvAtSlack.root = grown.part2 - grown.swap - 64*mib
	lvOverSlack := lvAtSlack
	lvOverSlack.root--
	fsAtMin := grown // the filesystem is exactly 90 % of its LV
	fsAtMin.root = grown.root / (20 * mib) * (20 * mib)
	fsAtMin.fs = fsAtMin.root / 100 * 90
	fsUnderMin := fsAtMin
	fsUnderMin.fs--
	// A second, partitioned disk with its own volume group, listed after
	// the root disk: neither its size nor its LV counts for the root disk.
	withDataDisk := func(d nodeReadyDisk) []string {
		l := d.lsblk()
		i := strings.Index(l, `NAME="/dev/sr0"`)
		data := fmt.Sprintf("NAME=\"/dev/sdb\" KNAME=\"/dev/sdb\" MAJ:MIN=\"8:16\" TYPE=\"disk\" SIZE=\"%d\" PKNAME=\"\"\n", 100*gib) +
			fmt.Sprintf("NAME=\"/dev/sdb1\" KNAME=\"/dev/sdb1\" MAJ:MIN=\"8:17\" TYPE=\"part\" SIZE=\"%d\" PKNAME=\"/dev/sdb\"\n", 100*gib-2*mib) +
			fmt.Sprintf("NAME=\"/dev/mapper/data--vg-data\" KNAME=\"/dev/dm-2\" MAJ:MIN=\"254:2\" TYPE=\"lvm\" SIZE=\"%d\" PKNAME=\"/dev/sdb1\"\n", 100*gib-8*mib)
		return []string{"FAKE_LSBLK=" + l[:i] + data + l[i:]}
	}

	failedUnit := "FAKE_GROW=LoadState=loaded\nActiveState=failed\nResult=exit-code"
	for _, tc := range []struct {
		name string
		disk nodeReadyDisk
		env  []string
		fail []string // nil: passes
	}{
		{name: "grown", disk: grown},
		{name: "grown without swap", disk: noSwap},
		{name: "unused space within tolerance", disk: atTolerance},
		{name: "MAJ_MIN pairs key", disk: newUtilLinux},
		{name: "64 MiB after the partitions", disk: partAtSlack},
		{name: "64 MiB and a byte after the partitions", disk: partOverSlack, fail: []string{"disk /dev/sda is 40.0 GiB but its partitions use only 39.9 GiB", "growpart failed"}},
		{name: "64 MiB of the PV in no LV", disk: lvAtSlack},
		{name: "64 MiB and a byte of the PV in no LV", disk: lvOverSlack, fail: []string{"LVM partition /dev/sda2 is 39.9 GiB but its logical volumes use only 39.9 GiB"}},
		{name: "filesystem at 90 % of its LV", disk: fsAtMin},
		{name: "filesystem a byte under 90 % of its LV", disk: fsUnderMin, fail: []string{"the root filesystem is 34.1 GiB on the 37.9 GiB device /dev/mapper/nixos--vg-root: resize2fs did not grow it"}},
		{name: "second disk with its own VG", disk: grown, env: withDataDisk(grown)},
		{name: "second disk with its own VG, LV not extended", disk: noLVExtend, env: withDataDisk(noLVExtend), fail: []string{
			"LVM partition /dev/sda2 is 39.9 GiB but its logical volumes use only 20.0 GiB"}},
		{name: "unused space beyond tolerance", disk: overTolerance, fail: []string{"LVM partition /dev/sda2", "pvresize or lvextend"}},
		{name: "partition not grown", disk: notGrownPart, env: []string{failedUnit}, fail: []string{
			"nixlab-grow-root.service failed (ActiveState=failed, Result=exit-code); see 'journalctl -b -u nixlab-grow-root.service'",
			"disk /dev/sda is 40.0 GiB but its partitions use only 19.9 GiB, so 20.0 GiB is unused", "growpart failed"}},
		{name: "MBR stops at 2 TiB, unit says fine", disk: mbr, fail: []string{
			"disk /dev/sda is 3072.0 GiB but its partitions use only 2047.9 GiB", "MBR (msdos) partition table cannot use more than 2 TiB"}},
		{name: "LV not extended", disk: noLVExtend, fail: []string{
			"LVM partition /dev/sda2 is 39.9 GiB but its logical volumes use only 20.0 GiB", "pvresize or lvextend", "volume group named nixos-vg"}},
		{name: "filesystem not resized", disk: noResize, fail: []string{
			"the root filesystem is 17.7 GiB on the 37.9 GiB device /dev/mapper/nixos--vg-root: resize2fs did not grow it"}},
		{name: "unit failed, sizes fine", disk: grown, env: []string{failedUnit}, fail: []string{"nixlab-grow-root.service failed"}},
		{name: "unit missing", disk: grown, env: []string{"FAKE_GROW=LoadState=not-found\nActiveState=inactive\nResult=success"}, fail: []string{
			"nixlab-grow-root.service is not installed (LoadState=not-found)"}},
		{name: "root not in lsblk", disk: grown, env: []string{"FAKE_LSBLK=" + strings.ReplaceAll(grown.lsblk(), `"254:0"`, `"254:7"`)}, fail: []string{
			"lsblk does not list the root device /dev/mapper/nixos--vg-root (254:0)"}},
		{name: "nothing at /", disk: grown, env: []string{"FAKE_ROOT_FS="}, fail: []string{"findmnt lists no filesystem mounted at /"}},
		{name: "findmnt cannot read the mount table", disk: grown, env: []string{"FAKE_FINDMNT_ERR=can't read /proc/self/mountinfo: No such file or directory"},
			fail: []string{"findmnt lists no filesystem mounted at /"}},
		// findmnt prints an empty SIZE when statvfs(2) of the mount point
		// fails (util-linux misc-utils/findmnt.c get_vfs_attr returns NULL).
		{name: "root filesystem size unknown", disk: grown, env: []string{`FAKE_ROOT_FS=SOURCE="/dev/mapper/nixos--vg-root" MAJ:MIN="254:0" SIZE=""`}, fail: []string{
			`cannot read the root filesystem's device and size from findmnt (SOURCE="/dev/mapper/nixos--vg-root" MAJ:MIN="254:0" SIZE="")`}},
		// A filesystem made on the whole disk, no partition table: lsblk
		// lists the disk first.
		{name: "root filesystem on the whole disk", disk: grown, env: []string{`FAKE_ROOT_FS=SOURCE="/dev/sda" MAJ:MIN="8:0" SIZE="42000000000"`}, fail: []string{
			"the root filesystem /dev/sda is on a disk device, not on a partition or an LVM volume on a disk partition"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodeReadyNewFixture(t)
			res := f.run(t, f.env(append(tc.disk.env(), tc.env...)...), "n1", "/mnt/nfs", "yes", "300")
			if tc.fail == nil {
				if res.code != 0 {
					t.Fatalf("exit %d", res.code)
				}
				scriptMustContain(t, "stdout", res.stdout, fmt.Sprintf(", root disk grown (%s), ", map[int64]string{40 * gib: "40.0 GiB"}[tc.disk.disk]))
				return
			}
			nodeReadyExpectFailures(t, res, map[string][]string{"disk": tc.fail})
		})
	}
}
