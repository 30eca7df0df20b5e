package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// installerFake is one fake command for install.sh: what it does, and what
// it prints and exits with when $FAKE_FAIL names it.
type installerFake struct {
	body string
	fail string
}

// installerFakes are the commands install.sh runs that touch disks or the
// system; each fake appends its name and argv to $FAKE_LOG. The test disk is
// a regular file; $FAKE_KNAME is the kernel name the fakes give it (what
// lsblk prints for a /dev/disk/by-id/... link) and $FAKE_STATE holds what
// the fake parted created.
var installerFakes = map[string]installerFake{
	// util-linux wipefs -n: one line per signature found at the start of
	// the device; "wipefs: error: <dev>: probing initialization failed" when
	// it cannot open it (misc-utils/wipefs.c, new_probe()).
	"wipefs": {
		body: `if [ -n "${FAKE_WIPEFS_OUT:-}" ]; then printf '%s\n' "$FAKE_WIPEFS_OUT"; fi`,
		fail: `echo "wipefs: error: ${!#}: probing initialization failed: Permission denied" >&2; exit 1`,
	},
	// util-linux lsblk: the first row is the device itself (kernel name, also
	// for symlinks such as /dev/disk/by-id/...), then its children; --nodeps
	// prints the device only; --raw separates columns by one space. Partition
	// names follow the kernel's rule (block/partitions/core.c,
	// add_partition(): "<disk>p<n>" when the disk name ends in a digit, else
	// "<disk><n>").
	"lsblk": {
		body: `nodeps=0 cols=NAME
while [ $# -gt 1 ]; do
  case "$1" in
    --nodeps) nodeps=1 ;;
    --output) cols="$2"; shift ;;
  esac
  shift
done
dev="$1"
kname="${FAKE_KNAME:-/dev/sda}"
row() { # name type size
  local out="" c
  for c in ${cols//,/ }; do
    case "$c" in
      NAME) out="$out $1" ;;
      TYPE) out="$out $2" ;;
      SIZE) out="$out $3" ;;
    esac
  done
  printf '%s\n' "${out# }"
}
row "$kname" "${FAKE_DISK_TYPE:-disk}" "$(stat -c %s "$dev")"
[ "$nodeps" = 0 ] || exit 0
case "$kname" in *[0-9]) sep=p ;; *) sep="" ;; esac
if [ -f "$FAKE_STATE/parts" ]; then
  while read -r n; do row "$kname$sep$n" part 1048576; done < "$FAKE_STATE/parts"
fi
if [ -n "${FAKE_LSBLK_EXTRA:-}" ]; then
  printf '%s\n' "$FAKE_LSBLK_EXTRA" | while read -r name type; do row "$name" "$type" 0; done
fi`,
		fail: `echo "lsblk: ${!#}: not a block device" >&2; exit 32`,
	},
	// blkid -p -O <offset> -o export: exit 0 with TYPE= (and USAGE=) when a
	// signature is found, 2 when nothing is (misc-utils/blkid.c,
	// BLKID_EXIT_NOTFOUND). The fake finds what libblkid finds by its magic:
	// ext2/3/4 = 0xEF53 at byte 0x438 of the filesystem
	// (libblkid/src/superblocks/ext.c), LVM2 = "LABELONE" at the start of
	// sector 1 (libblkid/src/superblocks/lvm.c, real tool: TYPE=LVM2_member
	// USAGE=raid for a PV at 1 MiB under a wiped msdos label).
	"blkid": {
		body: `if [ -n "${FAKE_REAL_BLKID:-}" ]; then exec "$FAKE_REAL_BLKID" "$@"; fi
offset=0
while [ $# -gt 1 ]; do
  case "$1" in --offset) offset="$2"; shift ;; esac
  shift
done
dev="$1"
at() { dd if="$dev" bs=1 skip=$((offset + $1)) count="$2" 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
if [ "$(at 1080 2)" = 53ef ]; then
  printf 'DEVNAME=%s\nTYPE=ext4\nUSAGE=filesystem\n' "$dev"; exit 0
fi
if [ "$(at 512 8)" = 4c4142454c4f4e45 ]; then
  printf 'DEVNAME=%s\nTYPE=LVM2_member\nUSAGE=raid\n' "$dev"; exit 0
fi
exit 2`,
		fail: `echo "blkid: error: ${!#}: Input/output error" >&2; exit 4`,
	},
	// The real cmp reads the test disk; the fake only adds a failure.
	"cmp": {
		body: `exec "$FAKE_REAL_CMP" "$@"`,
		fail: `echo "cmp: ${3:-disk}: Input/output error" >&2; exit 2`,
	},
	// lvm2 pvs: one row per PV, "  <pv> <vg> <vg uuid>" (real output with two
	// VGs named nixos-vg, lvm2 2.03.16: both rows, exit 0, plus "WARNING: VG
	// name nixos-vg is used by VGs ..." on stderr).
	"pvs": {
		body: `if [ -n "${FAKE_PVS:-}" ]; then printf '%s\n' "$FAKE_PVS" | sed 's/^/  /'; fi
if [ "${FAKE_PVS_DUP_WARNING:-0}" = 1 ]; then
  echo "  WARNING: VG name nixos-vg is used by VGs Tx7Z4H-UsqM-tomf-IHDY-d5xJ-68rK-dD1JRz and uXYmRv-L21i-2AIL-Ywez-lW76-yJPR-uAfcXH." >&2
  echo "  Fix duplicate VG names with vgrename uuid, a device filter, or system IDs." >&2
fi`,
		fail: `echo "  /run/lock/lvm/P_global:aux: open failed: Read-only file system" >&2; exit 5`,
	},
	// parted: records the partitions it made in $FAKE_STATE/parts and
	// creates their sysfs "partition" attribute (the kernel's number).
	"parted": {
		body: `kname="${FAKE_KNAME:-/dev/sda}"
case "$kname" in *[0-9]) sep=p ;; *) sep="" ;; esac
: > "$FAKE_STATE/parts"
for n in ${FAKE_PARTED_PARTS:-1 2}; do
  echo "$n" >> "$FAKE_STATE/parts"
  d="$NIXLAB_SYSFS/class/block/$(basename "$kname$sep$n")"
  mkdir -p "$d"
  echo "$n" > "$d/partition"
done`,
		fail: `echo "Error: Partition(s) on ${3:-disk} are being used." >&2; exit 1`,
	},
	"pvcreate": {},
	"vgcreate": {},
	// Real lvcreate on a kernel without device-mapper (lvm2 2.03.16, exit 3):
	// the cause is in the middle, the last line is a usage hint.
	"lvcreate": {fail: `cat >&2 <<'EOF'
  /dev/mapper/control: open failed: No such device
  Failure to communicate with kernel device-mapper driver.
  Check that device-mapper is available in the kernel.
  Incompatible libdevmapper 1.02.185 (2022-05-18) and kernel driver (unknown version).
  striped: Required device-mapper target(s) not detected in your kernel.
  Run ` + "`" + `lvcreate --help' for more information.
EOF
exit 3`},
	"mkfs.ext4": {},
	"mkswap":    {},
	"mount":     {},
	"umount":    {},
	"swapon":    {},
	"swapoff":   {},
	// Makes the disk appear on call number $FAKE_DISK_APPEARS_AT (it is
	// absent until then when the test sets it).
	"udevadm": {body: `if [ -n "${FAKE_DISK_APPEARS_AT:-}" ]; then
  n=$(( $(cat "$FAKE_STATE/udevadm" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$FAKE_STATE/udevadm"
  if [ "$n" -ge "$FAKE_DISK_APPEARS_AT" ] && [ ! -e "$NIXLAB_DISK" ]; then
    mv "$FAKE_STATE/disk.hidden" "$NIXLAB_DISK"
  fi
fi`},
	"sync":      {},
	"systemctl": {},
	// Returns at once: waits and the linger after "done" are only recorded.
	"sleep": {},
	// Creates what a real install leaves behind that must not reach the
	// template, and keeps the status file as the pipeline reads it while the
	// installation runs ($FAKE_STATE/status.during-install).
	"nixos-install": {
		body: `cp "$NIXLAB_STATUS_FILE" "$FAKE_STATE/status.during-install"
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
		fail: `echo "copying path... (progress)" >&2
echo "error: path '/nix/store/x-foo' is \"not\" valid \\ really" >&2
exit 1`,
	},
}

// installerDiskBytes is the size of the test disk (sparse).
const installerDiskBytes = 64 << 20

type installerRun struct {
	exitCode int
	stderr   string
	status   string
	calls    [][]string // argv of every fake call, in order (argv[0] = name)
	root     string
	disk     string
	state    string // the fakes' state directory
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
	return len(r.callsOf(name)) > 0
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

// wroteNothing fails the test when any command that writes to a disk ran or
// the disk's bytes changed.
func (r *installerRun) wroteNothing(t *testing.T) {
	t.Helper()
	for _, name := range []string{"parted", "pvcreate", "vgcreate", "lvcreate", "mkfs.ext4", "mkswap", "mount", "nixos-install", "systemctl"} {
		if r.called(name) {
			t.Errorf("%s called although nothing may be written", name)
		}
	}
	after, err := os.ReadFile(r.disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, r.diskData) {
		t.Error("disk content changed")
	}
	if strings.Contains(r.status, "MODIFIED") {
		t.Errorf("status claims the disk was modified: %q", r.status)
	}
}

// installerTimeout bounds every run: a wait loop that never ends fails the
// test in seconds instead of hanging it.
const installerTimeout = 20 * time.Second

// runInstaller runs nixos/scripts/install.sh under bash with fakes on PATH and
// a sparse regular file as the disk. prepareDisk may write to the disk first.
// env "NIXLAB_DISK_NAME" names the disk file (e.g. a by-id style name);
// FAKE_DISK_APPEARS_AT hides the disk until that udevadm call.
func runInstaller(t *testing.T, env map[string]string, prepareDisk func(*os.File)) *installerRun {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	realCmp := testutil.RequireTool(t, "cmp")
	for _, tool := range []string{"dd", "od", "stat"} {
		testutil.RequireTool(t, tool)
	}
	dir := t.TempDir()
	fakes := filepath.Join(dir, "bin")
	state := filepath.Join(dir, "state")
	sysfs := filepath.Join(dir, "sys")
	for _, d := range []string{fakes, state, sysfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logFile := filepath.Join(dir, "calls.log")
	for name, fake := range installerFakes {
		// FAKE_KILLED=<name>: the command is killed by SIGKILL (the OOM
		// killer) before it prints anything: exit status 128+9, no output.
		fail := `if [ "${FAKE_KILLED:-}" = "` + name + `" ]; then kill -KILL $$; fi
`
		if fake.fail != "" {
			fail += `if [ "${FAKE_FAIL:-}" = "` + name + `" ]; then
` + fake.fail + `
fi
`
		}
		// One line per call: name and args separated by US (0x1f).
		testutil.WriteFake(t, fakes, name, `printf '%s' "`+name+`" >> "$FAKE_LOG"
for a in "$@"; do printf '\037%s' "$a" >> "$FAKE_LOG"; done
printf '\n' >> "$FAKE_LOG"
`+fail+fake.body)
	}

	diskName := "disk.img"
	if n := env["NIXLAB_DISK_NAME"]; n != "" {
		diskName = n
	}
	disk := filepath.Join(dir, diskName)
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(installerDiskBytes)
	if v := env["FAKE_DISK_BYTES"]; v != "" {
		if _, err := fmt.Sscan(v, &size); err != nil {
			t.Fatalf("FAKE_DISK_BYTES=%q: %v", v, err)
		}
	}
	if err := f.Truncate(size); err != nil {
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
	if _, ok := env["FAKE_DISK_APPEARS_AT"]; ok {
		if err := os.Rename(disk, filepath.Join(state, "disk.hidden")); err != nil {
			t.Fatal(err)
		}
	}

	system := filepath.Join(dir, "nix", "store", "aaaa-nixos-system-node")
	if err := os.MkdirAll(system, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "mnt")
	statusFile := filepath.Join(dir, "run", "nixlab-install", "status")

	ctx, cancel := context.WithTimeout(context.Background(), installerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, filepath.Join(testutil.RepoRoot(t), "nixos", "scripts", "install.sh"))
	cmd.Env = append(os.Environ(),
		"PATH="+testutil.PathWith(fakes),
		"FAKE_LOG="+logFile,
		"FAKE_STATE="+state,
		"FAKE_REAL_CMP="+realCmp,
		"TMPDIR="+dir,
		"NIXLAB_DISK="+disk,
		"NIXLAB_SWAP_GB=2",
		"NIXLAB_SYSTEM="+system,
		"NIXLAB_STATUS_FILE="+statusFile,
		"NIXLAB_MOUNT="+root,
		"NIXLAB_SYSFS="+sysfs,
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("install.sh did not finish within %s (a wait loop that never ends?); stderr:\n%s", installerTimeout, stderr.String())
	}
	run := &installerRun{stderr: stderr.String(), root: root, disk: disk, state: state, diskData: before}
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
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
	t.Logf("status: %s", run.status)
	checkStatusContract(t, run.status)
	// Leftover temporary files next to the status file break atomicity claims.
	if entries, err := os.ReadDir(filepath.Dir(statusFile)); err == nil && len(entries) != 1 {
		t.Errorf("status directory should hold only the status file, has %d entries", len(entries))
	}
	// The script's own temporary files are removed on every exit.
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	return run
}

// checkStatusContract: one line "<state>: <message>", printable ASCII, no '"'
// or '\', at most 1000 characters of message.
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
	if len(msg) > 1000 {
		t.Errorf("status message has %d characters, more than 1000", len(msg))
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
		env   map[string]string
		vg    string
		pv    string // partition 2 as the kernel names it
		swap  bool
		names []string
	}{
		{
			name: "with swap",
			env:  map[string]string{"NIXLAB_SWAP_GB": "2"},
			vg:   "nixos-vg", pv: "/dev/sda2", swap: true,
			names: []string{
				"udevadm", "lsblk", "lsblk", "wipefs", "blkid", "blkid", "cmp", "cmp", "pvs",
				"parted", "udevadm", "lsblk",
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
			env:  map[string]string{"NIXLAB_SWAP_GB": "0"},
			vg:   "nixos-vg", pv: "/dev/sda2",
			names: []string{
				"udevadm", "lsblk", "lsblk", "wipefs", "blkid", "blkid", "cmp", "cmp", "pvs",
				"parted", "udevadm", "lsblk",
				"pvcreate", "vgcreate", "lvcreate", "udevadm",
				"mkfs.ext4",
				"mount",
				"nixos-install",
				"sync", "umount",
				"sleep", "systemctl",
			},
		},
		{
			// The partition is whatever the kernel calls it: a by-id link's
			// partition is NOT "<link>p2" or "<link>2".
			name: "by-id disk path",
			env: map[string]string{"NIXLAB_SWAP_GB": "0", "NIXLAB_DISK_NAME": "scsi-0QEMU_QEMU_HARDDISK_drive-scsi0",
				"FAKE_KNAME": "/dev/sda"},
			vg: "nixos-vg", pv: "/dev/sda2",
		},
		{
			name: "NVMe partition naming",
			env:  map[string]string{"NIXLAB_SWAP_GB": "0", "NIXLAB_DISK_NAME": "nvme-QEMU_NVMe_Ctrl_deadbeef", "FAKE_KNAME": "/dev/nvme0n1"},
			vg:   "nixos-vg", pv: "/dev/nvme0n1p2",
		},
		{
			// A nixos-vg elsewhere does not matter when ours has another name.
			name: "VG name from NIXLAB_VG",
			env: map[string]string{"NIXLAB_SWAP_GB": "1", "NIXLAB_VG": "lab.vg_2",
				"FAKE_PVS": "/dev/sdb2 nixos-vg uXYmRv-L21i-2AIL-Ywez-lW76-yJPR-uAfcXH"},
			vg: "lab.vg_2", pv: "/dev/sda2", swap: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, tc.env, nil)
			if r.exitCode != 0 {
				t.Fatalf("exit code %d, status %q, stderr:\n%s", r.exitCode, r.status, r.stderr)
			}
			if tc.names != nil {
				if got := r.names(); !reflect.DeepEqual(got, tc.names) {
					t.Errorf("command sequence\n got: %v\nwant: %v", got, tc.names)
				}
			}
			if !strings.HasPrefix(r.status, "done: ") {
				t.Errorf("status %q, want done: ...", r.status)
			}
			// While nixos-install runs, the pipeline reads which step is
			// under way.
			if got, want := scriptReadState(t, r, "status.during-install"), "running: installing NixOS (nixos-install)\n"; got != want {
				t.Errorf("status during nixos-install %q, want %q", got, want)
			}
			vg := tc.vg
			wantArgs := map[string][]string{
				// GPT: no 2 TiB limit; partition 1 holds GRUB's core.img for
				// SeaBIOS (bios_grub), partition 2 the LVM PV.
				"parted": {"parted", "-s", r.disk, "--", "mklabel", "gpt",
					"mkpart", "bios", "1MiB", "2MiB", "set", "1", "bios_grub", "on",
					"mkpart", "lvm", "2MiB", "100%", "set", "2", "lvm", "on"},
				"pvcreate":      {"pvcreate", "--devices", tc.pv, tc.pv},
				"vgcreate":      {"vgcreate", "--devices", tc.pv, vg, tc.pv},
				"mkfs.ext4":     {"mkfs.ext4", "-F", "-L", "nixos", "/dev/" + vg + "/root"},
				"mount":         {"mount", "/dev/" + vg + "/root", r.root},
				"nixos-install": {"nixos-install", "--system", "", "--root", r.root, "--no-root-passwd", "--no-channel-copy", "--option", "substituters", ""},
				"umount":        {"umount", r.root},
				"systemctl":     {"systemctl", "poweroff"},
				"pvs":           {"pvs", "--noheadings", "--options", "pv_name,vg_name,vg_uuid"},
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
			// Checks 3 and 4 of the emptiness promise, at the documented places.
			var probes, ranges []string
			for _, c := range r.callsOf("blkid") {
				probes = append(probes, strings.Join(c[1:len(c)-1], " "))
			}
			for _, c := range r.callsOf("cmp") {
				ranges = append(ranges, strings.Join(c[1:5], " "))
			}
			if want := []string{"--probe --offset 1048576 --output export", "--probe --offset 2097152 --output export"}; !reflect.DeepEqual(probes, want) {
				t.Errorf("blkid probes %q, want %q", probes, want)
			}
			if want := []string{"-s -n 16777216 -i", "-s -n 1048576 -i"}; !reflect.DeepEqual(ranges, want) {
				t.Errorf("cmp ranges %q, want %q", ranges, want)
			}
			if c := r.callsOf("cmp"); len(c) == 2 && (c[0][5] != "0:0" || c[1][5] != "66060288:0") {
				t.Errorf("cmp offsets %q and %q, want 0:0 and %d:0 (the last MiB)", c[0][5], c[1][5], installerDiskBytes-(1<<20))
			}

			lv := r.callsOf("lvcreate")
			if !tc.swap {
				if r.called("mkswap") || r.called("swapon") || r.called("swapoff") {
					t.Error("swap commands run with NIXLAB_SWAP_GB=0")
				}
				for _, c := range lv {
					if strings.Contains(strings.Join(c, " "), "swap") {
						t.Errorf("swap LV created with NIXLAB_SWAP_GB=0: %q", c)
					}
				}
			} else {
				if got, want := strings.Join(lv[0], " "), "lvcreate --devices "+tc.pv+" --yes -n swap -L "+tc.env["NIXLAB_SWAP_GB"]+"G "+vg; got != want {
					t.Errorf("swap lvcreate: %s, want %s", got, want)
				}
				if got := strings.Join(r.callsOf("mkswap")[0], " "); got != "mkswap -L swap /dev/"+vg+"/swap" {
					t.Errorf("mkswap: %s", got)
				}
			}
			if got, want := strings.Join(lv[len(lv)-1], " "), "lvcreate --devices "+tc.pv+" --yes -n root -l 100%FREE "+vg; got != want {
				t.Errorf("root lvcreate: %s, want %s", got, want)
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
			if _, err := os.Stat(filepath.Join(r.root, "var", "lib", "systemd", "random-seed")); !os.IsNotExist(err) {
				t.Errorf("random-seed left in the template (every clone would share it): %v", err)
			}
		})
	}
}

// ext4Magic writes what libblkid recognises as ext4 at the given offset.
func ext4Magic(t *testing.T, offset int64) func(*os.File) {
	return func(f *os.File) {
		if _, err := f.WriteAt([]byte{0x53, 0xef}, offset+0x438); err != nil {
			t.Fatal(err)
		}
	}
}

// lvmLabel writes an LVM2 PV label ("LABELONE" in sector 1) at the offset.
func lvmLabel(t *testing.T, offset int64) func(*os.File) {
	return func(f *os.File) {
		if _, err := f.WriteAt([]byte("LABELONE"), offset+512); err != nil {
			t.Fatal(err)
		}
	}
}

// wipeFirstMiB zeroes the first MiB after prepare wrote (dd ... count=1).
func wipeFirstMiB(t *testing.T, prepare func(*os.File)) func(*os.File) {
	return func(f *os.File) {
		prepare(f)
		if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func writeAt(t *testing.T, data []byte, offset int64) func(*os.File) {
	return func(f *os.File) {
		if _, err := f.WriteAt(data, offset); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInstallerRefusesNonEmptyDisk(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		env     map[string]string
		prepare func(*os.File)
		reason  string
	}{
		{"partition table signature", map[string]string{"FAKE_WIPEFS_OUT": "dos"}, nil, "signatures on the disk: dos"},
		{"LVM signature", map[string]string{"FAKE_WIPEFS_OUT": "LVM2_member"}, nil, "LVM2_member"},
		{"a single partition", map[string]string{"FAKE_LSBLK_EXTRA": "/dev/sda1 part"}, nil, "the kernel lists part /dev/sda1"},
		{"partitions and a volume", map[string]string{"FAKE_LSBLK_EXTRA": "/dev/sda1 part\n/dev/mapper/vg-lv lvm"}, nil, "part /dev/sda1, lvm /dev/mapper/vg-lv"},
		// The old msdos layout's PV or ext4 at 1 MiB under a wiped first MiB.
		{"ext4 at 1 MiB, first MiB wiped", nil, wipeFirstMiB(t, ext4Magic(t, mib)), "ext4 at 1 MiB"},
		{"LVM label at 1 MiB, first MiB wiped", nil, wipeFirstMiB(t, lvmLabel(t, mib)), "LVM2_member at 1 MiB"},
		{"LVM label at 2 MiB (GPT layout)", nil, lvmLabel(t, 2*mib), "LVM2_member at 2 MiB"},
		{"non-zero data, no signature", nil, writeAt(t, []byte("leftover data"), 4096), "non-zero data in the first 16 MiB"},
		{"data in the last byte of the first MiB", nil, writeAt(t, []byte{1}, mib-1), "non-zero data in the first 16 MiB"},
		{"raw data at 15 MiB", nil, writeAt(t, []byte("x"), 15*mib+7), "non-zero data in the first 16 MiB"},
		{"GPT backup at the end", nil, writeAt(t, []byte("EFI PART"), installerDiskBytes-512), "non-zero data in the last 1 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, tc.env, tc.prepare)
			if r.exitCode == 0 {
				t.Fatal("install.sh accepted a non-empty disk")
			}
			prefix := "failed: disk " + r.disk + " is not empty ("
			if !strings.HasPrefix(r.status, prefix) || !strings.Contains(r.status, "refusing to install, nothing was written; attach an empty disk") {
				t.Errorf("status %q, want %s... refusing to install, nothing was written; attach an empty disk", r.status, prefix)
			}
			if !strings.Contains(r.status, tc.reason) {
				t.Errorf("status %q does not name the reason %q", r.status, tc.reason)
			}
			if !strings.Contains(r.stderr, "is not empty") || !strings.Contains(r.stderr, "refusing to install") {
				t.Errorf("refusal not on stderr:\n%s", r.stderr)
			}
			r.wroteNothing(t)
		})
	}
}

// Every finding is listed, not only the first.
func TestInstallerRefusalListsEveryFinding(t *testing.T) {
	r := runInstaller(t, map[string]string{"FAKE_WIPEFS_OUT": "PMBR", "FAKE_LSBLK_EXTRA": "/dev/sda1 part"},
		func(f *os.File) { lvmLabel(t, 2<<20)(f) })
	for _, want := range []string{"the kernel lists part /dev/sda1", "signatures on the disk: PMBR", "LVM2_member at 2 MiB", "non-zero data in the first 16 MiB"} {
		if !strings.Contains(r.status, want) {
			t.Errorf("status %q lacks %q", r.status, want)
		}
	}
	r.wroteNothing(t)
}

// A VG of our name elsewhere is a name collision, not a non-empty disk;
// two of them (where `vgs nixos-vg` exits 5) are found just the same.
func TestInstallerRefusesExistingVGName(t *testing.T) {
	tests := []struct {
		name string
		pvs  string
		want []string
	}{
		{"one elsewhere", "/dev/sdb2 nixos-vg uXYmRv-L21i-2AIL-Ywez-lW76-yJPR-uAfcXH\n/dev/sdc1 other-vg Zz",
			[]string{"on /dev/sdb2 (VG UUID uXYmRv-L21i-2AIL-Ywez-lW76-yJPR-uAfcXH)"}},
		{"two with the same name", "/dev/sdb2 nixos-vg uXYmRv-L21i-2AIL-Ywez-lW76-yJPR-uAfcXH\n/dev/sdc nixos-vg Tx7Z4H-UsqM-tomf-IHDY-d5xJ-68rK-dD1JRz",
			[]string{"/dev/sdb2 (VG UUID uXYmRv", "/dev/sdc (VG UUID Tx7Z4H"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, map[string]string{"FAKE_PVS": tc.pvs, "FAKE_PVS_DUP_WARNING": "1"}, nil)
			if r.exitCode == 0 {
				t.Fatal("install.sh accepted a second nixos-vg")
			}
			if !strings.HasPrefix(r.status, "failed: volume group nixos-vg already exists on this machine, on ") {
				t.Errorf("status %q does not name the VG collision", r.status)
			}
			if strings.Contains(r.status, "not empty") {
				t.Errorf("a blank disk is called not empty: %q", r.status)
			}
			for _, want := range append(tc.want, "nothing was written to "+r.disk) {
				if !strings.Contains(r.status, want) {
					t.Errorf("status %q lacks %q", r.status, want)
				}
			}
			r.wroteNothing(t)
		})
	}
}

// A read-only check that cannot run refuses the install: the tool's own
// message is kept, nothing is written.
func TestInstallerCheckToolFailures(t *testing.T) {
	tests := []struct{ tool, want string }{
		{"lsblk", "lsblk failed (exit 32): lsblk: "},
		{"wipefs", "wipefs failed (exit 1): wipefs: error: "},
		{"blkid", "blkid --probe at offset 1048576 failed (exit 4): blkid: error: "},
		{"cmp", "cannot read "},
		{"pvs", "pvs failed (exit 5): /run/lock/lvm/P_global:aux: open failed: Read-only file system"},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			r := runInstaller(t, map[string]string{"FAKE_FAIL": tc.tool}, nil)
			if r.exitCode == 0 {
				t.Fatal("install.sh went on although a check failed")
			}
			if !strings.HasPrefix(r.status, "failed: ") || !strings.Contains(r.status, tc.want) {
				t.Errorf("status %q, want failed: ...%s...", r.status, tc.want)
			}
			if tc.tool == "cmp" && !strings.Contains(r.status, "Input/output error") {
				t.Errorf("cmp's message lost: %q", r.status)
			}
			if strings.Contains(r.status, "command failed at line") {
				t.Errorf("a reported failure was overwritten by the EXIT trap: %q", r.status)
			}
			r.wroteNothing(t)
		})
	}
}

// After partitioning began, a failure keeps the lines with the cause and says
// the disk was modified and what to do.
func TestInstallerFailureAfterPartitioning(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		notWant string
	}{
		{
			name:    "lvcreate without device-mapper",
			env:     map[string]string{"FAKE_FAIL": "lvcreate"},
			want:    "failed: creating LVM volume group nixos-vg on /dev/sda2: lvcreate failed (exit 3): /dev/mapper/control: open failed: No such device / Failure to communicate with kernel device-mapper driver. / Incompatible libdevmapper 1.02.185 (2022-05-18) and kernel driver (unknown version). / striped: Required device-mapper target(s) not detected in your kernel.",
			notWant: "--help",
		},
		{
			name:    "nixos-install",
			env:     map[string]string{"FAKE_FAIL": "nixos-install"},
			want:    "failed: installing NixOS (nixos-install): nixos-install failed (exit 1): error: path '/nix/store/x-foo' is not valid  really",
			notWant: "progress",
		},
		{
			name: "parted",
			env:  map[string]string{"FAKE_FAIL": "parted"},
			want: "failed: partitioning ",
		},
		{
			// Killed (OOM) before it printed anything: the status still
			// says which command died and how.
			name: "mkfs.ext4 killed without output",
			env:  map[string]string{"FAKE_KILLED": "mkfs.ext4"},
			want: "failed: formatting /dev/nixos-vg/root (ext4): mkfs.ext4 failed (exit 137): mkfs.ext4 exited with status 137 and printed nothing -- ",
		},
		{
			name: "no partition 2 after partitioning",
			env:  map[string]string{"FAKE_PARTED_PARTS": "1"},
			want: "failed: finding partition 2 of ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, tc.env, nil)
			if r.exitCode == 0 {
				t.Fatal("install.sh succeeded despite the failure")
			}
			if !strings.HasPrefix(r.status, tc.want) {
				t.Errorf("status\n got: %q\nwant prefix: %q", r.status, tc.want)
			}
			if tc.notWant != "" && strings.Contains(r.status, tc.notWant) {
				t.Errorf("status keeps noise %q: %q", tc.notWant, r.status)
			}
			if want := r.disk + " WAS MODIFIED (partitioning had begun) and is no longer empty: to retry, give the VM a new empty disk, or wipe this one"; !strings.Contains(r.status, want) {
				t.Errorf("status %q does not say the disk was modified", r.status)
			}
			if r.called("systemctl") {
				t.Error("powered off after a failure")
			}
			if !r.called("parted") {
				t.Error("parted not run")
			}
		})
	}
}

// An error the script did not foresee still ends as "failed:" (the EXIT
// trap), naming the step and the command, and says the disk was modified.
func TestInstallerUnexpectedErrorExitTrap(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runInstaller(t, map[string]string{"NIXLAB_MOUNT": filepath.Join(blocker, "mnt")}, nil)
	if r.exitCode == 0 {
		t.Fatal("install.sh succeeded although the mount point cannot be created")
	}
	for _, want := range []string{"failed: mounting /dev/nixos-vg/root at ", ": command failed at line ", "mkdir -p", "WAS MODIFIED"} {
		if !strings.Contains(r.status, want) {
			t.Errorf("status %q lacks %q", r.status, want)
		}
	}
	if r.called("mount") || r.called("nixos-install") {
		t.Errorf("went on after the error: %v", r.names())
	}
}

// The disk wait polls a bounded number of times; each run is bounded by
// installerTimeout, so a loop that never ends fails in seconds.
func TestInstallerDiskWait(t *testing.T) {
	t.Run("never appears", func(t *testing.T) {
		r := runInstaller(t, map[string]string{"FAKE_DISK_APPEARS_AT": "1000", "NIXLAB_DISK_WAIT_SECONDS": "6"}, nil)
		if r.exitCode == 0 {
			t.Fatal("install.sh went on without a disk")
		}
		if want := "failed: waiting for disk " + r.disk + ": disk " + r.disk + " did not appear within 6 s"; !strings.HasPrefix(r.status, want) {
			t.Errorf("status %q, want prefix %q", r.status, want)
		}
		if got := len(r.callsOf("udevadm")); got != 3 {
			t.Errorf("looked %d times, want 3 (6 s, every 2 s)", got)
		}
		for _, c := range r.callsOf("sleep") {
			if !reflect.DeepEqual(c, []string{"sleep", "2"}) {
				t.Errorf("poll sleep %q", c)
			}
		}
		if got := len(r.callsOf("sleep")); got != 2 {
			t.Errorf("slept %d times, want 2", got)
		}
		if r.called("lsblk") || r.called("parted") {
			t.Errorf("went on without a disk: %v", r.names())
		}
	})
	t.Run("appears on the third look", func(t *testing.T) {
		r := runInstaller(t, map[string]string{"FAKE_DISK_APPEARS_AT": "3", "NIXLAB_SWAP_GB": "0"}, nil)
		if r.exitCode != 0 {
			t.Fatalf("exit %d, status %q", r.exitCode, r.status)
		}
		if got := r.names()[:6]; !reflect.DeepEqual(got, []string{"udevadm", "sleep", "udevadm", "sleep", "udevadm", "lsblk"}) {
			t.Errorf("wait sequence %v", got)
		}
	})
	t.Run("zero seconds still looks once", func(t *testing.T) {
		r := runInstaller(t, map[string]string{"FAKE_DISK_APPEARS_AT": "1000", "NIXLAB_DISK_WAIT_SECONDS": "0"}, nil)
		if got := len(r.callsOf("udevadm")); got != 1 || r.called("sleep") {
			t.Errorf("udevadm %d times, sleep %v; want one look, no sleep", got, r.called("sleep"))
		}
		if !strings.Contains(r.status, "did not appear within 0 s") {
			t.Errorf("status %q", r.status)
		}
	})
}

func TestInstallerRefusesNonDisk(t *testing.T) {
	r := runInstaller(t, map[string]string{"FAKE_DISK_TYPE": "part"}, nil)
	if r.exitCode == 0 || !strings.Contains(r.status, "is a 'part' device") || !strings.Contains(r.status, "not a whole disk") {
		t.Errorf("exit %d, status %q", r.exitCode, r.status)
	}
	r.wroteNothing(t)
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
		{"disk wait not a number", map[string]string{"NIXLAB_DISK_WAIT_SECONDS": "1m"}, "NIXLAB_DISK_WAIT_SECONDS"},
		{"VG name with a slash", map[string]string{"NIXLAB_VG": "nixos/vg"}, "NIXLAB_VG"},
		{"VG name starting with -", map[string]string{"NIXLAB_VG": "-vg"}, "NIXLAB_VG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInstaller(t, tc.env, nil)
			if r.exitCode == 0 {
				t.Fatal("expected failure")
			}
			if !strings.HasPrefix(r.status, "failed: checking settings: ") || !strings.Contains(r.status, tc.want) {
				t.Errorf("status %q, want failed: checking settings: ...%s...", r.status, tc.want)
			}
			if len(r.calls) != 0 {
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

// The real blkid finds what the installer must refuse: an ext4 at 1 MiB
// under a wiped first MiB (mkfs.ext4 -E offset, as a partition of the old
// msdos layout held it), although the real wipefs finds nothing there.
func TestInstallerRealBlkidSeesDataAt1MiB(t *testing.T) {
	blkid := testutil.RequireTool(t, "blkid")
	mkfs := testutil.RequireTool(t, "mkfs.ext4")
	wipefs := testutil.RequireTool(t, "wipefs")
	r := runInstaller(t, map[string]string{"FAKE_REAL_BLKID": blkid}, func(f *os.File) {
		out, err := exec.Command(mkfs, "-q", "-F", "-E", "offset=1048576", f.Name(), "16M").CombinedOutput()
		if err != nil {
			t.Fatalf("mkfs.ext4: %v\n%s", err, out)
		}
		if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(wipefs, "--no-act", "--noheadings", "--output", "TYPE", f.Name()).Output(); err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Fatalf("the real wipefs should find nothing here (that is the gap): %q %v", out, err)
		}
	})
	if r.exitCode == 0 || !strings.Contains(r.status, "ext4 at 1 MiB") {
		t.Errorf("exit %d, status %q; want a refusal naming ext4 at 1 MiB", r.exitCode, r.status)
	}
	r.wroteNothing(t)
}

// The parted command line the installer runs gives, with the real parted,
// the contracted layout: GPT, partition 1 1MiB..2MiB with bios_grub,
// partition 2 from 2MiB to the last usable sector with the lvm flag.
func TestInstallerRealPartedLayout(t *testing.T) {
	parted := testutil.RequireTool(t, "parted")
	r := runInstaller(t, map[string]string{"NIXLAB_SWAP_GB": "0"}, nil)
	calls := r.callsOf("parted")
	if r.exitCode != 0 || len(calls) != 1 {
		t.Fatalf("exit %d, parted calls %q", r.exitCode, calls)
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 5<<40); err != nil { // 5 TiB, sparse: past msdos' 2 TiB
		t.Fatal(err)
	}
	args := append([]string{}, calls[0][1:]...)
	args[1] = img // parted -s <disk> -- ...
	if out, err := exec.Command(parted, args...).CombinedOutput(); err != nil {
		t.Fatalf("parted %q: %v\n%s", args, err, out)
	}
	out, err := exec.Command(parted, "-sm", img, "unit", "s", "print").Output()
	if err != nil {
		t.Fatalf("parted print: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	total := int64(5<<40) / 512
	if len(lines) != 4 || !strings.HasSuffix(lines[1], ":gpt::;") || lines[2] != "1:2048s:4095s:2048s::bios:bios_grub;" {
		t.Fatalf("layout\n%s\nwant gpt with 1:2048s:4095s:2048s::bios:bios_grub;", out)
	}
	// Partition 2: from 2 MiB to the end; parted aligns the end to 1 MiB,
	// GPT keeps 33 sectors: within grow-root's 2 MiB slack, inside the disk.
	var start, end int64
	if _, err := fmt.Sscanf(lines[3], "2:%ds:%ds:", &start, &end); err != nil || !strings.HasSuffix(lines[3], "::lvm:lvm;") {
		t.Fatalf("partition 2 %q: %v", lines[3], err)
	}
	if start != 4096 || end > total-34 || total-1-end >= 4096 {
		t.Errorf("partition 2 spans sectors %d..%d of %d; want 4096 to within 2 MiB of the end", start, end, total)
	}
}

// scriptReadState returns a file the fakes wrote into their state directory.
func scriptReadState(t *testing.T, r *installerRun, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.state, name))
	if err != nil {
		t.Fatalf("the fakes left no %s: %v", name, err)
	}
	return string(b)
}

// The layout needs 32 MiB (MIN_DISK_BYTES): a smaller disk is refused
// before anything is written, one of exactly that size is installed.
func TestInstallerDiskSize(t *testing.T) {
	const min = 32 << 20
	t.Run("one sector too small", func(t *testing.T) {
		r := runInstaller(t, map[string]string{"FAKE_DISK_BYTES": fmt.Sprint(min - 512)}, nil)
		if r.exitCode == 0 {
			t.Fatal("install.sh installed onto a disk below 32 MiB")
		}
		if want := fmt.Sprintf("failed: inspecting %s: %s has %d bytes, less than the %d this layout needs", r.disk, r.disk, min-512, min); !strings.HasPrefix(r.status, want) {
			t.Errorf("status %q, want prefix %q", r.status, want)
		}
		r.wroteNothing(t)
	})
	t.Run("exactly 32 MiB", func(t *testing.T) {
		r := runInstaller(t, map[string]string{"FAKE_DISK_BYTES": fmt.Sprint(min)}, nil)
		if r.exitCode != 0 || !strings.HasPrefix(r.status, "done: ") {
			t.Fatalf("exit %d, status %q; want done", r.exitCode, r.status)
		}
	})
}
