package components_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// scriptFakeQm is a qm driven by files in $FAKE_QM_DIR; every call is
// appended to calls.
//   - config: printed by `qm config`; with config.fail present it fails.
//   - statuses: one power state a line for `qm status`; each call takes the
//     first line, the last line sticks. The state "fail" makes that call fail.
//   - guest: one answer a line for `qm guest exec`, same order rules:
//     agent-down (agent not running), vm-down (VM not running), no-file
//     (status file missing), empty-file (no output: qemu-ga sends no
//     out-data), still-running (exec outlived qm's wait), or the installer
//     status line itself.
//   - set.fail / template.fail / shutdown.fail / stop.fail make those
//     commands fail.
//
// Outputs and exit codes follow qemu-server 9.2.6 (proxmox/qemu-server,
// src/PVE/CLI/qm.pm) and pve-common's CLIHandler:
//   - An error is a Perl die that leaves run_cli_handler (pve-common
//     src/PVE/CLIHandler.pm): the message on stderr, exit status 255.
//   - `qm status`: load_config first (a missing VM dies with "Configuration
//     file 'nodes/<node>/qemu-server/<vmid>.conf' does not exist",
//     PVE::AbstractConfig::load_config), then prints "status: <qmpstatus>",
//     where qmpstatus falls back to running|stopped (PVE::QemuServer::vmstatus).
//   - `qm guest exec`: dies "VM <vmid> is not running" / "QEMU guest agent is
//     not running" (PVE::QemuServer::Agent::assert_agent_available); else it
//     prints the exec-status result as to_json(pretty, canonical): keys
//     sorted, three-space indent, " : ", out-data/err-data decoded from
//     base64 (qemu_exec_status), "exited" : 1 once the command ended. When
//     the command outlives --timeout (default 30 s) it warns "timeout
//     reached, returning pid" and prints only {"pid": N} (qm.pm, exec).
//   - `qm set/template/stop` on a locked VM die "VM is locked (<lock>)"
//     (pve-guest-common PVE::AbstractConfig::check_lock; the message as in
//     qemu-server's src/test/snapshot-test.pm); `qm shutdown --timeout`
//     fails "VM quit/powerdown failed - got timeout" (PVE::QemuServer::
//     vm_stop), exit 255 through the worker's UPID status ($upid_exit).
const scriptFakeQm = `
d="$FAKE_QM_DIR"
printf '%s\n' "$*" >>"$d/calls"
pop() {
  local f="$d/$1" first
  first="$(head -n 1 "$f")"
  if (( $(wc -l <"$f") > 1 )); then
    tail -n +2 "$f" >"$f.tmp"
    mv "$f.tmp" "$f"
  fi
  printf '%s\n' "$first"
}
case "$1" in
  config)
    if [[ -f "$d/config.fail" ]]; then
      echo "Configuration file 'nodes/pve/qemu-server/$2.conf' does not exist" >&2
      exit 255
    fi
    cat "$d/config"
    ;;
  status)
    s="$(pop statuses)"
    if [[ "$s" == fail ]]; then
      echo "Configuration file 'nodes/pve/qemu-server/$2.conf' does not exist" >&2
      exit 255
    fi
    printf 'status: %s\n' "$s"
    ;;
  guest)
    [[ "$2 $4 $5 $6" == "exec -- cat /run/nixlab-install/status" ]] || { echo "fake qm: unexpected: $*" >&2; exit 2; }
    s="$(pop guest)"
    case "$s" in
      agent-down)
        echo "QEMU guest agent is not running" >&2
        exit 255
        ;;
      vm-down)
        echo "VM $3 is not running" >&2
        exit 255
        ;;
      no-file)
        printf '{\n   "err-data" : "cat: /run/nixlab-install/status: No such file or directory\\n",\n   "exitcode" : 1,\n   "exited" : 1\n}\n'
        ;;
      still-running)
        echo "timeout reached, returning pid" >&2
        printf '{\n   "pid" : 4242\n}\n'
        ;;
      empty-file)
        printf '{\n   "exitcode" : 0,\n   "exited" : 1\n}\n'
        ;;
      *)
        printf '{\n   "exitcode" : 0,\n   "exited" : 1,\n   "out-data" : "%s\\n"\n}\n' "$s"
        ;;
    esac
    ;;
  set)
    if [[ -f "$d/set.fail" ]]; then echo "VM is locked (backup)" >&2; exit 255; fi
    echo "update VM $2: $3 $4"
    ;;
  template)
    if [[ -f "$d/template.fail" ]]; then echo "VM is locked (backup)" >&2; exit 255; fi
    ;;
  shutdown)
    if [[ -f "$d/shutdown.fail" ]]; then echo "VM quit/powerdown failed - got timeout" >&2; exit 255; fi
    ;;
  stop)
    if [[ -f "$d/stop.fail" ]]; then echo "VM is locked (backup)" >&2; exit 255; fi
    ;;
  *)
    echo "fake qm: unexpected: $*" >&2
    exit 2
    ;;
esac
`

// scriptFakeSleep returns at once and records its argument: for tests that
// must not wait for real.
const scriptFakeSleep = `printf '%s\n' "$*" >>"$FAKE_QM_DIR/sleeps"`

const finalizeConfig = "boot: order=scsi0;ide3\ncores: 2\nide3: local:iso/nixlab-0123456789abcdef.iso,media=cdrom\nmemory: 2048\nname: nixlab-template\nscsi0: local-lvm:vm-9000-disk-0,size=20G\n"

type finalizeFixture struct {
	state, qmBin, sleepBin string
}

// newFinalizeFixture writes the fake qm's files. fastSleep puts a fake sleep
// on the PATH.
func newFinalizeFixture(t *testing.T, config string, statuses, guest []string) finalizeFixture {
	t.Helper()
	f := finalizeFixture{state: t.TempDir(), qmBin: t.TempDir(), sleepBin: t.TempDir()}
	testutil.WriteFake(t, f.qmBin, "qm", scriptFakeQm)
	testutil.WriteFake(t, f.sleepBin, "sleep", scriptFakeSleep)
	scriptWriteFile(t, filepath.Join(f.state, "config"), config)
	scriptWriteFile(t, filepath.Join(f.state, "statuses"), strings.Join(statuses, "\n")+"\n")
	scriptWriteFile(t, filepath.Join(f.state, "guest"), strings.Join(guest, "\n")+"\n")
	return f
}

func (f finalizeFixture) env(fastSleep bool) []string {
	path := testutil.PathWith(f.qmBin)
	if fastSleep {
		path = testutil.PathWith(f.qmBin, f.sleepBin)
	}
	return []string{"PATH=" + path, "HOME=" + f.state, "FAKE_QM_DIR=" + f.state}
}

func (f finalizeFixture) touch(t *testing.T, name string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(f.state, name), "")
}

func (f finalizeFixture) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.state, "calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (f finalizeFixture) sleeps(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.state, "sleeps"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// conversions returns the calls that change the VM (set, template).
func finalizeConversions(calls []string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, "set ") || strings.HasPrefix(c, "template ") {
			out = append(out, c)
		}
	}
	return out
}

func TestScriptFinalizeTemplate_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "finalize-template.sh")
}

func TestScriptFinalizeTemplate_Success(t *testing.T) {
	t.Parallel()
	bash := testutil.RequireTool(t, "bash")
	for _, mode := range []string{"bash file", "bash -c"} {
		t.Run(mode, func(t *testing.T) {
			f := newFinalizeFixture(t, finalizeConfig,
				[]string{"running", "running", "running", "running", "running", "running", "stopped"},
				[]string{"agent-down", "no-file", "running: partitioning /dev/sda", "running: partitioning /dev/sda",
					"running: installing NixOS (nixos-install)", "done: installed; powering off"})
			args := []string{"9000", "600", "5", "ide3"}
			var res scriptResult
			if mode == "bash -c" {
				// How the component runs it on the host.
				text := scriptReadFile(t, scriptFile(t, "finalize-template.sh"))
				res = scriptRunArgv(t, f.state, f.env(true), append([]string{bash, "-c", text, "finalize-template"}, args...))
			} else {
				res = scriptRun(t, f.state, f.env(true), "finalize-template.sh", args...)
			}
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			if got := finalizeConversions(f.calls(t)); !slices.Equal(got, []string{"set 9000 --delete ide3", "template 9000"}) {
				t.Errorf("conversion calls = %q, want set --delete ide3 then template", got)
			}
			calls := f.calls(t)
			if last := calls[len(calls)-1]; last != "template 9000" {
				t.Errorf("last qm call = %q, want template", last)
			}
			// One shutdown, and only after the sixth status read (the one
			// that said "done").
			var guestReads, shutdownAt, shutdowns int
			for _, c := range calls {
				if strings.HasPrefix(c, "guest exec") {
					guestReads++
				}
				if strings.HasPrefix(c, "shutdown ") {
					shutdowns++
					shutdownAt = guestReads
				}
			}
			if shutdowns != 1 || shutdownAt != 6 {
				t.Errorf("%d shutdowns, the first after %d status reads; want one, after the 6th (done)", shutdowns, shutdownAt)
			}
			for _, line := range []string{
				"running: partitioning /dev/sda",
				"running: installing NixOS (nixos-install)",
				"done: installed; powering off",
			} {
				re := regexp.MustCompile(`(?m)^\[vm 9000 \+\d+m\d\ds\] ` + regexp.QuoteMeta(line) + `$`)
				if n := len(re.FindAllString(res.stdout, -1)); n != 1 {
					t.Errorf("progress line %q printed %d times, want once", line, n)
				}
			}
			if !strings.HasSuffix(res.stdout, "VM 9000 is now a template\n") {
				t.Errorf("stdout does not end with the result line")
			}
			if n := f.sleeps(t); n != 6 {
				t.Errorf("slept %d times, want 6 (one per running poll)", n)
			}
			if b, _ := os.ReadFile(filepath.Join(f.state, "sleeps")); !strings.HasPrefix(string(b), "5\n") {
				t.Errorf("sleeps %q, want the poll interval 5", b)
			}
		})
	}
}

func TestScriptFinalizeTemplate_AlreadyTemplate(t *testing.T) {
	t.Parallel()
	f := newFinalizeFixture(t, "name: nixlab-template\ntemplate: 1\n", []string{"stopped"}, []string{"agent-down"})
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "VM 9000 is already a template\n" {
		t.Errorf("stdout = %q", res.stdout)
	}
	if calls := f.calls(t); !slices.Equal(calls, []string{"config 9000"}) {
		t.Errorf("qm calls = %q, want only config", calls)
	}
}

// finalizeDoneThenStopped and finalizeDone: the installer reports success,
// then the VM powers off.
var (
	finalizeDoneThenStopped = []string{"running", "stopped"}
	finalizeDone            = []string{"done: NixOS installed on /dev/sda; waiting for the pipeline to shut the VM down (at the latest in 3600 s)"}
)

// finalizeIndex is the position of the first call starting with prefix, or -1.
func finalizeIndex(calls []string, prefix string) int {
	for i, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return i
		}
	}
	return -1
}

// Once the installer reports "done" it waits; finalize shuts the VM down
// (hard stop when the shutdown fails) and converts it. This is also what a
// re-run after an interruption finds: a running VM that says "done".
func TestScriptFinalizeTemplate_ShutsDownAfterDone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fail string
		want       []string // the power calls, in order
	}{
		{"clean shutdown", "", []string{"shutdown 9000 --timeout 120"}},
		{"shutdown fails, hard stop", "shutdown.fail", []string{"shutdown 9000 --timeout 120", "stop 9000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The VM keeps running for a few polls after "done" (the shutdown
			// takes a while): one shutdown, not one per poll.
			f := newFinalizeFixture(t, finalizeConfig, []string{"running", "running", "running", "stopped"}, finalizeDone)
			if tc.fail != "" {
				f.touch(t, tc.fail)
			}
			res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			calls := f.calls(t)
			var power []string
			for _, c := range calls {
				if strings.HasPrefix(c, "shutdown ") || strings.HasPrefix(c, "stop ") {
					power = append(power, c)
				}
			}
			if !slices.Equal(power, tc.want) {
				t.Errorf("power calls %q, want %q", power, tc.want)
			}
			done, shutdown, set := finalizeIndex(calls, "guest exec"), finalizeIndex(calls, "shutdown"), finalizeIndex(calls, "set 9000")
			if !(done >= 0 && done < shutdown && shutdown < set) {
				t.Errorf("order of calls %q: want the done status, then shutdown, then the conversion", calls)
			}
			scriptMustContain(t, "stdout", res.stdout, "installer finished; shutting the VM down", "VM 9000 is now a template")
		})
	}
	f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, finalizeDone)
	f.touch(t, "shutdown.fail")
	f.touch(t, "stop.fail")
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
	if res.code != 1 || !strings.Contains(res.stderr, "cannot stop VM 9000") {
		t.Errorf("shutdown and stop failing: exit %d, stderr %q", res.code, res.stderr)
	}
	if got := finalizeConversions(f.calls(t)); len(got) != 0 {
		t.Errorf("converted a VM it could not stop: %q", got)
	}
}

// A VM that stops without the installer's "done" (shut down by hand, a
// crash) must never become a template.
func TestScriptFinalizeTemplate_StoppedWithoutDone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		guest []string
		last  string
	}{
		{"mid-install", []string{"running: installing NixOS (nixos-install)"}, "running: installing NixOS (nixos-install)"},
		{"never answered", []string{"agent-down"}, "none"},
		{"already stopped when finalize starts", nil, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			statuses, guest := []string{"running", "stopped"}, tc.guest
			if guest == nil {
				statuses, guest = []string{"stopped"}, []string{"agent-down"}
			}
			f := newFinalizeFixture(t, finalizeConfig, statuses, guest)
			res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
			if res.code != 1 {
				t.Fatalf("exit %d, want 1", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, "never reported success", "last installer status: "+tc.last, "not converted")
			if got := finalizeConversions(f.calls(t)); len(got) != 0 {
				t.Errorf("conversion calls %q for a VM that never finished installing", got)
			}
		})
	}
}

func TestScriptFinalizeTemplate_NoCdromAttached(t *testing.T) {
	t.Parallel()
	f := newFinalizeFixture(t, "name: nixlab-template\nscsi0: local-lvm:vm-9000-disk-0,size=20G\n", finalizeDoneThenStopped, finalizeDone)
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if got := finalizeConversions(f.calls(t)); !slices.Equal(got, []string{"template 9000"}) {
		t.Errorf("conversion calls = %q, want only template", got)
	}
}

func TestScriptFinalizeTemplate_InstallerFailed(t *testing.T) {
	t.Parallel()
	f := newFinalizeFixture(t, finalizeConfig, []string{"running"},
		[]string{"failed: /dev/sda already holds a partition table; refusing to touch it"})
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1", res.code)
	}
	scriptMustContain(t, "stderr", res.stderr,
		"installer failed on VM 9000: /dev/sda already holds a partition table; refusing to touch it",
		"console", "left running")
	if n := f.sleeps(t); n != 0 {
		t.Errorf("slept %d times before reporting the failure, want 0", n)
	}
	if got := finalizeConversions(f.calls(t)); len(got) != 0 {
		t.Errorf("VM changed after a failed install: %q", got)
	}
}

func TestScriptFinalizeTemplate_Timeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		guest []string
		want  string
	}{
		{"last status", []string{"agent-down", "running: installing NixOS (nixos-install)"},
			"VM 9000 did not power off within 2 seconds; last installer status: running: installing NixOS (nixos-install)"},
		{"agent never answers", []string{"agent-down"},
			"VM 9000 did not power off within 2 seconds; last installer status: none (guest agent never answered)"},
		{"status file never written", []string{"agent-down", "no-file"},
			"last installer status: none (the guest agent answered, but /run/nixlab-install/status was never written)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, tc.guest)
			res := scriptRun(t, f.state, f.env(false), "finalize-template.sh", "9000", "2", "1", "ide3")
			if res.code != 1 {
				t.Fatalf("exit %d, want 1", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, tc.want)
			if got := finalizeConversions(f.calls(t)); len(got) != 0 {
				t.Errorf("VM changed after a timeout: %q", got)
			}
			if res.took < 2*time.Second || res.took > 5*time.Second {
				t.Errorf("took %v, want about the 2 s timeout", res.took)
			}
		})
	}
}

func TestScriptFinalizeTemplate_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil,
		{"9000", "600", "5"},
		{"9000", "600", "5", "ide3", "extra"},
		{"abc", "600", "5", "ide3"},
		{"99", "600", "5", "ide3"},
		{"1000000000", "600", "5", "ide3"},
		{"09000", "600", "5", "ide3"},
		{"9000;reboot", "600", "5", "ide3"},
		{"9000", "0", "5", "ide3"},
		{"9000", "-1", "5", "ide3"},
		{"9000", "10m", "5", "ide3"},
		{"9000", "600", "0", "ide3"},
		{"9000", "600", "", "ide3"},
		{"9000", "600", "5", "ide4"},
		{"9000", "600", "5", "sata0"},
		{"9000", "600", "5", "ide3 --delete scsi0"},
	} {
		f := newFinalizeFixture(t, finalizeConfig, []string{"stopped"}, []string{"agent-down"})
		res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", args...)
		if res.code == 0 {
			t.Errorf("args %q accepted", args)
		}
		if !strings.Contains(res.stderr, "usage:") {
			t.Errorf("args %q: no usage on stderr: %q", args, res.stderr)
		}
		if calls := f.calls(t); len(calls) != 0 {
			t.Errorf("args %q: qm called: %q", args, calls)
		}
	}
}

func TestScriptFinalizeTemplate_QmFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fail, want string
		wantCalls        []string
	}{
		{"vm missing", "config.fail", "cannot read the configuration of VM 9000", nil},
		{"set fails", "set.fail", "cannot detach ide3 from VM 9000", []string{"set 9000 --delete ide3"}},
		{"template fails", "template.fail", "cannot convert VM 9000 into a template", []string{"set 9000 --delete ide3", "template 9000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFinalizeFixture(t, finalizeConfig, finalizeDoneThenStopped, finalizeDone)
			f.touch(t, tc.fail)
			res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
			if res.code == 0 {
				t.Fatal("succeeded")
			}
			scriptMustContain(t, "stderr", res.stderr, tc.want)
			if strings.Contains(res.stdout, "is now a template") {
				t.Errorf("claimed success: %q", res.stdout)
			}
			if got := finalizeConversions(f.calls(t)); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("conversion calls = %q, want %q", got, tc.wantCalls)
			}
		})
	}
}

// finalizeSleeps returns the recorded sleep arguments.
func (f finalizeFixture) sleepArgs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.state, "sleeps"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// The wait is bounded by its polls, not only by the wall clock: with an
// instant sleep the loop still ends after timeout/poll naps, in well under a
// second, with the timeout error. (A loop that ignored the bound would run
// into scriptDeadline and fail the test.)
func TestScriptFinalizeTemplate_TimeoutByPolls(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, timeout, poll, want string
		naps                      []string
	}{
		{"300 s every 5 s", "300", "5", "within 5 minutes", slices.Repeat([]string{"5"}, 60)},
		{"last nap shortened to the deadline", "7", "5", "within 7 seconds", []string{"5", "2"}},
		{"poll longer than the timeout", "3", "10", "within 3 seconds", []string{"3"}},
		{"one second", "1", "5", "within 1 second;", []string{"1"}},
		{"one minute", "60", "30", "within 1 minute;", []string{"30", "30"}},
		{"seconds that are no whole minute", "90", "45", "within 90 seconds;", []string{"45", "45"}},
		{"an hour", "3600", "900", "within 60 minutes;", []string{"900", "900", "900", "900"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, []string{"running: installing NixOS (nixos-install)"})
			res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", tc.timeout, tc.poll, "ide3")
			if res.code != 1 {
				t.Fatalf("exit %d, want 1", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, "VM 9000 did not power off "+tc.want,
				"last installer status: running: installing NixOS (nixos-install)")
			if got := f.sleepArgs(t); !slices.Equal(got, tc.naps) {
				t.Errorf("naps %q, want %q", got, tc.naps)
			}
			// The last heartbeat falls on the deadline; from an hour on the
			// elapsed time reads +1h00m00s.
			if tc.timeout == "3600" && !strings.Contains(res.stdout, "[vm 9000 +1h00m00s] still waiting") {
				t.Errorf("no heartbeat at +1h00m00s:\n%s", res.stdout)
			}
			if got := finalizeConversions(f.calls(t)); len(got) != 0 {
				t.Errorf("VM changed after a timeout: %q", got)
			}
		})
	}
}

// A heartbeat every 120 s of unchanged status, on the same clock as the
// deadline. The first status arrives on the second poll, at exactly +5 s of
// slept time, so the heartbeats fall exactly on +2m05s and +4m05s.
func TestScriptFinalizeTemplate_Heartbeat(t *testing.T) {
	t.Parallel()
	f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, []string{"agent-down", "running: installing NixOS (nixos-install)"})
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "300", "5", "ide3")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1", res.code)
	}
	re := regexp.MustCompile(`(?m)^\[vm 9000 \+(\d+m\d\ds)\] still waiting for the installer to power the VM off \(VM running; installer status: running: installing NixOS \(nixos-install\)\)$`)
	var at []string
	for _, m := range re.FindAllStringSubmatch(res.stdout, -1) {
		at = append(at, m[1])
	}
	if want := []string{"2m05s", "4m05s"}; !slices.Equal(at, want) {
		t.Errorf("heartbeats at %q, want %q", at, want)
	}
	if !strings.Contains(res.stdout, "[vm 9000 +0m05s] running: installing NixOS (nixos-install)\n") {
		t.Errorf("status line not printed once at +0m05s:\n%s", res.stdout)
	}
	if n := strings.Count(res.stdout, "running: installing NixOS (nixos-install)\n"); n != 1 {
		t.Errorf("status line printed %d times, want once", n)
	}
}

// `qm status` failing now and then is retried; three failures in a row end
// the wait with an error and no conversion.
func TestScriptFinalizeTemplate_QmStatusFails(t *testing.T) {
	t.Parallel()
	t.Run("three in a row", func(t *testing.T) {
		t.Parallel()
		f := newFinalizeFixture(t, finalizeConfig, []string{"running", "fail", "fail", "fail", "running"}, []string{"running: partitioning /dev/sda"})
		res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
		if res.code != 1 {
			t.Fatalf("exit %d, want 1", res.code)
		}
		scriptMustContain(t, "stderr", res.stderr, "'qm status 9000' failed 3 times in a row; giving up")
		if n := strings.Count(res.stderr, "warning: 'qm status 9000' failed; retrying"); n != 2 {
			t.Errorf("%d retry warnings, want 2", n)
		}
		if n := f.sleeps(t); n != 3 {
			t.Errorf("slept %d times, want 3 (the first poll and two retries)", n)
		}
		if got := finalizeConversions(f.calls(t)); len(got) != 0 {
			t.Errorf("VM changed after qm status failed: %q", got)
		}
	})
	t.Run("two in a row, twice, then done", func(t *testing.T) {
		t.Parallel()
		f := newFinalizeFixture(t, finalizeConfig,
			[]string{"fail", "fail", "running", "fail", "fail", "running", "stopped"}, finalizeDone)
		res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
		if res.code != 0 {
			t.Fatalf("exit %d, want 0", res.code)
		}
		if n := strings.Count(res.stderr, "retrying"); n != 4 {
			t.Errorf("%d retry warnings, want 4", n)
		}
		if got := finalizeConversions(f.calls(t)); !slices.Equal(got, []string{"set 9000 --delete ide3", "template 9000"}) {
			t.Errorf("conversion calls = %q", got)
		}
	})
}

// Guest agent answers that carry no status (VM or agent down, a `cat` that
// outlived qm's exec timeout) are not a status: the wait goes on.
func TestScriptFinalizeTemplate_GuestAnswersWithoutStatus(t *testing.T) {
	t.Parallel()
	f := newFinalizeFixture(t, finalizeConfig, []string{"running", "running", "running", "running", "stopped"},
		[]string{"vm-down", "still-running", "agent-down", "done: installed"})
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if strings.Contains(res.stdout, "4242") || strings.Contains(res.stdout, "pid") {
		t.Errorf("a pid answer was taken as a status: %q", res.stdout)
	}
	scriptMustContain(t, "stdout", res.stdout, "] done: installed\n", "VM 9000 is now a template")
}

// The installer's failed line ends the wait at once, with or without a message.
func TestScriptFinalizeTemplate_InstallerFailedForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, want string }{
		{"failed", "installer failed on VM 9000: no message"},
		{"failed:", "installer failed on VM 9000: no message"},
		{"failed: nixos-install exited 1", "installer failed on VM 9000: nixos-install exited 1"},
	} {
		f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, []string{"running: partitioning /dev/sda", tc.line})
		res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
		if res.code != 1 {
			t.Errorf("%q: exit %d, want 1", tc.line, res.code)
		}
		scriptMustContain(t, tc.line+" stderr", res.stderr, tc.want)
		if n := f.sleeps(t); n != 1 {
			t.Errorf("%q: slept %d times, want 1 (the poll before the failure)", tc.line, n)
		}
	}
	// "failedX" is no failure line: the wait goes on until the timeout.
	f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, []string{"failedX"})
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "10", "5", "ide3")
	if res.code != 1 || !strings.Contains(res.stderr, "did not power off") {
		t.Errorf("failedX: exit %d, stderr %q", res.code, res.stderr)
	}
}

// The script harness kills a run that never ends: a broken wait loop fails
// its test in seconds.
func TestScriptHarnessKillsEndlessLoops(t *testing.T) {
	t.Parallel()
	bash := testutil.RequireTool(t, "bash")
	res, err := scriptExec(t.TempDir(), []string{"PATH=" + os.Getenv("PATH")},
		[]string{bash, "-c", "echo started; while :; do sleep 0.1; done"}, time.Second)
	if !errors.Is(err, errScriptDeadline) {
		t.Fatalf("err = %v, want errScriptDeadline", err)
	}
	if res.took > 5*time.Second || res.stdout != "started\n" {
		t.Errorf("took %v, stdout %q", res.took, res.stdout)
	}
}

// The installer's success line may come without a message ("done"), like a
// failure line may.
func TestScriptFinalizeTemplate_BareDone(t *testing.T) {
	t.Parallel()
	f := newFinalizeFixture(t, finalizeConfig, []string{"running", "running", "stopped"}, []string{"running: copying the system", "done"})
	res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "600", "5", "ide3")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	calls := f.calls(t)
	if n := slices.Index(calls, "shutdown 9000 --timeout 120"); n < 0 {
		t.Errorf("no shutdown after a bare done: %q", calls)
	}
	if got := finalizeConversions(calls); !slices.Equal(got, []string{"set 9000 --delete ide3", "template 9000"}) {
		t.Errorf("conversion calls = %q", got)
	}
}

// Answers without a status after a status was read (the agent restarting,
// the file gone, a slow exec) keep the last status: it is what the timeout
// reports.
func TestScriptFinalizeTemplate_KeepsTheLastStatus(t *testing.T) {
	t.Parallel()
	for _, later := range []string{"agent-down", "vm-down", "no-file", "empty-file", "still-running"} {
		t.Run(later, func(t *testing.T) {
			t.Parallel()
			f := newFinalizeFixture(t, finalizeConfig, []string{"running"}, []string{"running: installing NixOS (nixos-install)", later})
			res := scriptRun(t, f.state, f.env(true), "finalize-template.sh", "9000", "30", "5", "ide3")
			if res.code != 1 {
				t.Fatalf("exit %d, want 1", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, "did not power off within 30 seconds; last installer status: running: installing NixOS (nixos-install)\n")
			if n := strings.Count(res.stdout, "] running: installing NixOS (nixos-install)\n"); n != 1 {
				t.Errorf("status printed %d times, want once", n)
			}
			if strings.Contains(res.stdout, "] \n") {
				t.Errorf("an empty status was printed:\n%s", res.stdout)
			}
		})
	}
}
