package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// installerFakes are the commands install.sh runs that touch disks or the
// system; each fake appends its name and argv to $FAKE_LOG.
var installerFakes = map[string]string{
	// Prints the signatures listed in $FAKE_WIPEFS_OUT (none by default).
	"wipefs": `if [ -n "${FAKE_WIPEFS_OUT:-}" ]; then printf '%s\n' "$FAKE_WIPEFS_OUT"; fi`,
	// The disk itself, plus whatever $FAKE_LSBLK_EXTRA adds (e.g. "part").
	"lsblk": `echo disk
if [ -n "${FAKE_LSBLK_EXTRA:-}" ]; then printf '%s\n' "$FAKE_LSBLK_EXTRA"; fi`,
	// No volume group unless $FAKE_VG_EXISTS=1.
	"vgs": `if [ "${FAKE_VG_EXISTS:-0}" = 1 ]; then echo "  nixos-vg"; exit 0; fi
echo "  Volume group \"$1\" not found" >&2; exit 5`,
	"parted":    "",
	"pvcreate":  "",
	"vgcreate":  "",
	"lvcreate":  "",
	"mkfs.ext4": "",
	"mkswap":    "",
	"mount":     "",
	"umount":    "",
	"swapon":    "",
	"swapoff":   "",
	"udevadm":   "",
	"sync":      "",
	"systemctl": "",
	// Returns at once: the linger after "done" is only recorded.
	"sleep": "",
	// Creates what a real install leaves behind that must not reach the
	// template, or fails with $FAKE_INSTALL_ERROR.
	"nixos-install": `if [ -n "${FAKE_INSTALL_ERROR:-}" ]; then
  echo "copying path... (progress)" >&2
  echo "$FAKE_INSTALL_ERROR" >&2
  exit 1
fi
root=""
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root="$2"; shift; fi
  shift
done
mkdir -p "$root/etc/ssh" "$root/var/lib/systemd"
echo 0123456789abcdef0123456789abcdef > "$root/etc/machine-id"
echo key > "$root/etc/ssh/ssh_host_ed25519_key"
echo pub > "$root/etc/ssh/ssh_host_ed25519_key.pub"
echo key > "$root/etc/ssh/ssh_host_rsa_key"
echo seed > "$root/var/lib/systemd/random-seed"
echo "installation finished!"`,
}

type installerRun struct {
	exitCode int
	stderr   string
	status   string
	calls    [][]string // argv of every fake call, in order (argv[0] = name)
	root     string
	disk     string
	diskData []byte // disk content before the run
}

func (r *installerRun) names() []string {
	var names []string
	for _, c := range r.calls {
		names = append(names, c[0])
	}
	return names
}

func (r *installerRun) called(name string) bool {
	for _, c := range r.calls {
		if c[0] == name {
			return true
		}
	}
	return false
}

func (r *installerRun) callsOf(name string) [][]string {
	var out [][]string
	for _, c := range r.calls {
		if c[0] == name {
			out = append(out, c)
		}
	}
	return out
}

// runInstaller runs nixos/scripts/install.sh under bash with fakes on PATH and
// a regular 2 MiB file as the disk. prepareDisk may write to the disk first.
func runInstaller(t *testing.T, env map[string]string, prepareDisk func(*os.File)) *installerRun {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	testutil.RequireTool(t, "cmp")
	dir := t.TempDir()
	fakes := filepath.Join(dir, "bin")
	if err := os.MkdirAll(fakes, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "calls.log")
	for name, body := range installerFakes {
		// One line per call: name and args separated by US (0x1f).
		testutil.WriteFake(t, fakes, name, `printf '%s' "`+name+`" >> "$FAKE_LOG"
for a in "$@"; do printf '\037%s' "$a" >> "$FAKE_LOG"; done
printf '\n' >> "$FAKE_LOG"
`+body)
	}

	disk := filepath.Join(dir, "disk.img")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 20); err != nil {
		t.Fatal(err)
	}
	if prepareDisk != nil {
		prepareDisk(f)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}

	system := filepath.Join(dir, "nix", "store", "aaaa-nixos-system-node")
	if err := os.MkdirAll(system, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "mnt")
	statusFile := filepath.Join(dir, "run", "nixlab-install", "status")

	cmd := exec.Command(bash, filepath.Join(testutil.RepoRoot(t), "nixos", "scripts", "install.sh"))
	cmd.Env = append(os.Environ(),
		"PATH="+testutil.PathWith(fakes),
		"FAKE_LOG="+logFile,
		"TMPDIR="+dir,
		"NIXLAB_DISK="+disk,
		"NIXLAB_SWAP_GB=2",
		"NIXLAB_SYSTEM="+system,
		"NIXLAB_STATUS_FILE="+statusFile,
		"NIXLAB_MOUNT="+root,
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err = cmd.Run()
	run := &installerRun{stderr: stderr.String(), root: root, disk: disk, diskData: before}
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run install.sh: %v", err)
		}
		run.exitCode = exitErr.ExitCode()
	}
	if b, err := os.ReadFile(statusFile); err == nil {
		run.status = string(b)
	} else {
		t.Errorf("no status file: %v", err)
	}
	if b, err := os.ReadFile(logFile); err == nil {
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if line != "" {
				run.calls = append(run.calls, strings.Split(line, "\x1f"))
			}
		}
	}
	checkStatusContract(t, run.status)
	// Leftover temporary files next to the status file break atomicity claims.
	if entries, err := os.ReadDir(filepath.Dir(statusFile)); err == nil && len(entries) != 1 {
		t.Errorf("status directory should hold only the status file, has %d entries", len(entries))
	}
	return run
}

// checkStatusContract: one line "<state>: <message>", printable ASCII, no '"'
// or '\'.
func checkStatusContract(t *testing.T, status string) {
	t.Helper()
	if strings.Count(status, "\n") != 1 || !strings.HasSuffix(status, "\n") {
		t.Errorf("status must be exactly one line, got %q", status)
	}
	line := strings.TrimSuffix(status, "\n")
	state, msg, ok := strings.Cut(line, ": ")
	if !ok || (state != "running" && state != "done" && state != "failed") {
		t.Errorf("status %q is not <running|done|failed>: <message>", line)
	}
	for _, r := range msg {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Errorf("status message %q has forbidden character %q", msg, r)
		}
	}
}

func TestInstallerSuccess(t *testing.T) {
	tests := []struct {
		name  string
		swap  string
		names []string
	}{
		{
			name: "with swap",
			swap: "2",
			names: []string{
				"udevadm", "wipefs", "lsblk", "vgs",
				"parted", "udevadm",
				"pvcreate", "vgcreate", "lvcreate", "lvcreate", "udevadm",
				"mkfs.ext4", "mkswap",
				"mount", "swapon",
				"nixos-install",
				"sync", "swapoff", "umount",
				"sleep", "systemctl",
			},
		},
		{
			name: "swap 0 means no swap LV",
			swap: "0",
			names: []string{
				"udevadm", "wipefs", "lsblk", "vgs",
				"parted", "udevadm",
				"pvcreate", "vgcreate", "lvcreate", "udevadm",
				"mkfs.ext4",
				"mount",
				"nixos-install",
				"sync", "umount",
				"sleep", "systemctl",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, map[string]string{"NIXLAB_SWAP_GB": tc.swap}, nil)
			if r.exitCode != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", r.exitCode, r.stderr)
			}
			if got := r.names(); !reflect.DeepEqual(got, tc.names) {
				t.Errorf("command sequence\n got: %v\nwant: %v", got, tc.names)
			}
			if !strings.HasPrefix(r.status, "done: ") {
				t.Errorf("status %q, want done: ...", r.status)
			}

			wantArgs := map[string][]string{
				"parted":        {"parted", "-s", r.disk, "--", "mklabel", "msdos", "mkpart", "primary", "1MiB", "100%", "set", "1", "lvm", "on"},
				"pvcreate":      {"pvcreate", r.disk + "1"},
				"vgcreate":      {"vgcreate", "nixos-vg", r.disk + "1"},
				"mkfs.ext4":     {"mkfs.ext4", "-F", "-L", "nixos", "/dev/nixos-vg/root"},
				"mount":         {"mount", "/dev/nixos-vg/root", r.root},
				"nixos-install": {"nixos-install", "--system", "", "--root", r.root, "--no-root-passwd", "--no-channel-copy", "--option", "substituters", ""},
				"umount":        {"umount", r.root},
				"systemctl":     {"systemctl", "poweroff"},
				// Up after "done" until finalize shuts it down.
				"sleep": {"sleep", "3600"},
			}
			for name, want := range wantArgs {
				calls := r.callsOf(name)
				if len(calls) != 1 {
					t.Errorf("%s called %d times", name, len(calls))
					continue
				}
				if name == "nixos-install" {
					want[2] = calls[0][2] // the system path, checked below
					if !strings.HasSuffix(calls[0][2], "aaaa-nixos-system-node") {
						t.Errorf("nixos-install --system %s", calls[0][2])
					}
				}
				if !reflect.DeepEqual(calls[0], want) {
					t.Errorf("%s args\n got: %q\nwant: %q", name, calls[0], want)
				}
			}
			lv := r.callsOf("lvcreate")
			if tc.swap == "0" {
				if r.called("mkswap") || r.called("swapon") || r.called("swapoff") {
					t.Error("swap commands run with NIXLAB_SWAP_GB=0")
				}
				for _, c := range lv {
					if strings.Contains(strings.Join(c, " "), "swap") {
						t.Errorf("swap LV created with NIXLAB_SWAP_GB=0: %q", c)
					}
				}
			} else {
				if got := strings.Join(lv[0], " "); got != "lvcreate --yes -n swap -L 2G nixos-vg" {
					t.Errorf("swap lvcreate: %s", got)
				}
				if got := strings.Join(r.callsOf("mkswap")[0], " "); got != "mkswap -L swap /dev/nixos-vg/swap" {
					t.Errorf("mkswap: %s", got)
				}
			}
			if got := strings.Join(lv[len(lv)-1], " "); got != "lvcreate --yes -n root -l 100%FREE nixos-vg" {
				t.Errorf("root lvcreate: %s", got)
			}
			if last := r.calls[len(r.calls)-1]; last[0] != "systemctl" || last[1] != "poweroff" {
				t.Errorf("last call %q, want systemctl poweroff", last)
			}

			// Clone safety in the installed root.
			fi, err := os.Stat(filepath.Join(r.root, "etc", "machine-id"))
			if err != nil {
				t.Fatalf("machine-id must be kept (empty): %v", err)
			}
			if fi.Size() != 0 {
				t.Errorf("machine-id has %d bytes, want 0", fi.Size())
			}
			keys, _ := filepath.Glob(filepath.Join(r.root, "etc", "ssh", "ssh_host_*"))
			if len(keys) != 0 {
				t.Errorf("SSH host keys left in the template: %v", keys)
			}
		})
	}
}

func TestInstallerRefusesNonEmptyDisk(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		prepare func(*os.File)
		reason  string
	}{
		{"partition table signature", map[string]string{"FAKE_WIPEFS_OUT": "dos"}, nil, "dos"},
		{"LVM signature", map[string]string{"FAKE_WIPEFS_OUT": "LVM2_member"}, nil, "LVM2_member"},
		{"partitions listed", map[string]string{"FAKE_LSBLK_EXTRA": "part\npart"}, nil, "partitions"},
		{"volume group exists", map[string]string{"FAKE_VG_EXISTS": "1"}, nil, "nixos-vg"},
		{"non-zero data, no signature", nil, func(f *os.File) {
			if _, err := f.WriteAt([]byte("leftover data"), 4096); err != nil {
				t.Fatal(err)
			}
		}, "non-zero data"},
		{"data in the last byte of the first MiB", nil, func(f *os.File) {
			if _, err := f.WriteAt([]byte{1}, 1<<20-1); err != nil {
				t.Fatal(err)
			}
		}, "non-zero data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, tc.env, tc.prepare)
			if r.exitCode == 0 {
				t.Fatal("install.sh accepted a non-empty disk")
			}
			prefix := "failed: disk " + r.disk + " is not empty ("
			if !strings.HasPrefix(r.status, prefix) || !strings.Contains(r.status, "refusing to install; attach an empty disk") {
				t.Errorf("status %q, want %s... refusing to install; attach an empty disk", r.status, prefix)
			}
			if !strings.Contains(r.status, tc.reason) {
				t.Errorf("status %q does not name the reason %q", r.status, tc.reason)
			}
			if !strings.Contains(r.stderr, "is not empty") || !strings.Contains(r.stderr, "refusing to install") {
				t.Errorf("refusal not on stderr:\n%s", r.stderr)
			}
			for _, name := range []string{"parted", "pvcreate", "vgcreate", "lvcreate", "mkfs.ext4", "mkswap", "mount", "nixos-install", "systemctl"} {
				if r.called(name) {
					t.Errorf("%s called on a refused disk", name)
				}
			}
			after, err := os.ReadFile(r.disk)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, r.diskData) {
				t.Error("disk content changed")
			}
		})
	}
}

func TestInstallerFailureReported(t *testing.T) {
	const msg = `error: path '/nix/store/x-foo' is "not" valid \ really`
	r := runInstaller(t, map[string]string{"FAKE_INSTALL_ERROR": msg}, nil)
	if r.exitCode == 0 {
		t.Fatal("install.sh succeeded although nixos-install failed")
	}
	want := "failed: installing NixOS (nixos-install): error: path '/nix/store/x-foo' is not valid  really\n"
	if r.status != want {
		t.Errorf("status\n got: %q\nwant: %q", r.status, want)
	}
	if r.called("systemctl") {
		t.Error("powered off after a failure")
	}
	if !strings.Contains(r.stderr, "x-foo") {
		t.Errorf("nixos-install's error not on stderr:\n%s", r.stderr)
	}
}

func TestInstallerBadInputs(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"swap not a number", map[string]string{"NIXLAB_SWAP_GB": "two"}, "NIXLAB_SWAP_GB"},
		{"system missing", map[string]string{"NIXLAB_SYSTEM": "/nonexistent/nixos-system"}, "/nonexistent/nixos-system"},
		{"system unset", map[string]string{"NIXLAB_SYSTEM": ""}, "NIXLAB_SYSTEM"},
		{"linger not a number", map[string]string{"NIXLAB_DONE_LINGER": "soon"}, "NIXLAB_DONE_LINGER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, tc.env, nil)
			if r.exitCode == 0 {
				t.Fatal("expected failure")
			}
			if !strings.HasPrefix(r.status, "failed: ") || !strings.Contains(r.status, tc.want) {
				t.Errorf("status %q, want failed: ...%s...", r.status, tc.want)
			}
			if r.called("wipefs") || r.called("parted") || r.called("systemctl") {
				t.Errorf("commands run despite bad input: %v", r.names())
			}
		})
	}
}

func TestInstallerShellcheck(t *testing.T) {
	shellcheck := testutil.RequireTool(t, "shellcheck")
	scripts, err := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "nixos", "scripts", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	for _, s := range scripts {
		t.Run(filepath.Base(s), func(t *testing.T) {
			if out, err := exec.Command(shellcheck, "--shell=bash", s).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", filepath.Base(s), err, out)
			}
		})
	}
}
