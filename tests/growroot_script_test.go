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

// growModel is sourced by every grow-root fake: the sizes of the node's disk,
// its PV partition, the PV, the LVs and the ext4, as the real tools would
// report them. Extents are 4 MiB, the PV's data starts 1 MiB into the
// partition (lvm2 defaults; real `pvs --units b` on a fresh 62 MiB partition:
// dev_size 64994816, pe_start 1048576, pv_size 62914560), ext4 blocks are
// 4 KiB with 32768 per group.
const growModelFuncs = `. "$FAKE_STATE/model"
MIB=1048576; EXT=$((4 * MIB))
kname="${FAKE_KNAME:-/dev/sda}"
case "$kname" in *[0-9]) sep=p ;; *) sep="" ;; esac
pnum="${FAKE_PARTNUM:-2}"
part="$kname$sep$pnum"
lvdev=/dev/mapper/nixos--vg-root
free_ext() { echo $(( PV_SIZE / EXT - SWAP_EXT - LV_EXT )); }
save() {
  printf 'DISK_SIZE=%s\nPART_START=%s\nPART_SIZE=%s\nPV_SIZE=%s\nSWAP_EXT=%s\nLV_EXT=%s\nFS_BLOCKS=%s\n' \
    "$DISK_SIZE" "$PART_START" "$PART_SIZE" "$PV_SIZE" "$SWAP_EXT" "$LV_EXT" "$FS_BLOCKS" > "$FAKE_STATE/model"
}
`

// The real messages below were read from Debian bookworm's lvm2 2.03.16,
// cloud-guest-utils 0.33 and e2fsprogs 1.47.0 run on loop devices and image
// files (a PV copied onto a second loop device, two VGs named nixos-vg).
var growFakes = map[string]string{
	// util-linux lsblk: --inverse lists the LV's device, then its parents
	// (partition, disk); --nodeps --bytes prints the device's own columns.
	// START is in 512-byte sectors (sysfs <part>/start).
	"lsblk": `inverse=0 cols=""
while [ $# -gt 1 ]; do
  case "$1" in --inverse) inverse=1 ;; --output) cols="$2"; shift ;; esac
  shift
done
dev="$1"
if [ "$inverse" = 1 ]; then
  if [ -n "${FAKE_LSBLK_INVERSE:-}" ]; then printf '%s\n' "$FAKE_LSBLK_INVERSE"; exit 0; fi
  printf '%s lvm\n%s part\n%s disk\n' "$lvdev" "$part" "$kname"; exit 0
fi
case "$dev:$cols" in
  "$kname:SIZE") echo "$DISK_SIZE" ;;
  "$part:START,SIZE") echo "$PART_START $PART_SIZE" ;;
  "$lvdev:SIZE") echo $(( LV_EXT * EXT )) ;;
  *) echo "lsblk: $dev: not a block device" >&2; exit 32 ;;
esac`,
	// cloud-utils growpart: grows the partition to the last usable sector
	// (GPT: 34 sectors before the end; msdos: at most sector 2^32-1, with
	// "WARNING: MBR/dos partitioned disk is larger than 2TB" in real
	// growpart), says NOCHANGE and exits 1 when the change would be under
	// its 1 MiB --fudge.
	"growpart": `[ "$1" = "$kname" ] && [ "$2" = "$pnum" ] || { echo "FAILED: failed to get start and end for $1$2 in $1"; exit 2; }
last=$(( DISK_SIZE / 512 - 34 ))
if [ "${FAKE_LABEL:-gpt}" = msdos ] && [ "$last" -gt 4294967295 ]; then
  echo "WARNING: MBR/dos partitioned disk is larger than 2TB. Additional space will go unused." >&2
  last=4294967295
fi
new=$(( (last - PART_START + 1) * 512 ))
if [ $(( new - PART_SIZE )) -lt "$MIB" ]; then
  echo "NOCHANGE: partition $2 is size $(( PART_SIZE / 512 )). it cannot be grown"; exit 1
fi
echo "CHANGED: partition=$2 start=$PART_START old: size=$(( PART_SIZE / 512 )) end=$(( PART_START + PART_SIZE / 512 - 1 )) new: size=$(( new / 512 )) end=$last"
PART_SIZE=$new; save`,
	// lvm2 pvs. Unrestricted: every PV and its VG, plus the duplicate
	// warnings a cloned disk causes. With --devices: the one PV's sizes.
	"pvs": `if [ "$1" = --devices ]; then
  echo "  $PART_SIZE $MIB $PV_SIZE $EXT"; exit 0
fi
echo "  $part nixos-vg"
if [ -n "${FAKE_PVS_EXTRA:-}" ]; then printf '  %s\n' "$FAKE_PVS_EXTRA"; fi
case "${FAKE_DUPLICATE:-}" in
  pv)
    echo "  WARNING: Not using device /dev/sdb2 for PV 6X2cks-2dND-3HGZ-4Tg2-eVsE-73dG-MMeHF1." >&2
    echo "  WARNING: PV 6X2cks-2dND-3HGZ-4Tg2-eVsE-73dG-MMeHF1 prefers device $part because device name matches previous." >&2 ;;
  vg)
    echo "  WARNING: VG name nixos-vg is used by VGs Tx7Z4H-UsqM-tomf-IHDY-d5xJ-68rK-dD1JRz and uXYmRv-L21i-2AIL-Ywez-lW76-yJPR-uAfcXH." >&2
    echo "  Fix duplicate VG names with vgrename uuid, a device filter, or system IDs." >&2 ;;
esac`,
	// lvm2 pvresize: "Physical volume ... changed" and "1 physical volume(s)
	// resized or updated" whenever it processed the PV, also at the same
	// size; on an unused duplicate device it processes nothing and still
	// exits 0 (FAKE_PVRESIZE=none); with duplicates visible it refuses to
	// write the VG and exits 5 (FAKE_PVRESIZE=dupfail). FAKE_PVRESIZE=stale
	// reports success but leaves our PV at its old size, as when lvm2
	// processed a same-UUID PV on another device.
	"pvresize": `case "${FAKE_PVRESIZE:-ok}" in
  none) echo "  0 physical volume(s) resized or updated / 0 physical volume(s) not resized"; exit 0 ;;
  stale)
    echo "  Physical volume \"$part\" changed"
    echo "  1 physical volume(s) resized or updated / 0 physical volume(s) not resized"; exit 0 ;;
  dupfail)
    echo "  WARNING: Not using device /dev/sdb2 for PV 6X2cks-2dND-3HGZ-4Tg2-eVsE-73dG-MMeHF1." >&2
    echo "  Cannot update volume group nixos-vg with duplicate PV devices." >&2
    echo "  Failed to store physical volume \"$part\" in volume group \"nixos-vg\"" >&2
    echo "  0 physical volume(s) resized or updated / 1 physical volume(s) not resized"; exit 5 ;;
esac
PV_SIZE=$(( (PART_SIZE - MIB) / EXT * EXT )); save
echo "  Physical volume \"$part\" changed"
echo "  1 physical volume(s) resized or updated / 0 physical volume(s) not resized"`,
	"vgs": `echo "  ${FAKE_VG_FREE_OVERRIDE:-$(free_ext)}"`,
	// lvm2 lvextend. FAKE_OTHER_DISK=lvextend: it reports success but grew
	// an LV on another disk (ours keeps its size).
	"lvextend": `f=$(free_ext)
echo "  Size of logical volume nixos-vg/root changed from $((LV_EXT * 4)).00 MiB ($LV_EXT extents) to $(((LV_EXT + f) * 4)).00 MiB ($((LV_EXT + f)) extents)."
echo "  Logical volume nixos-vg/root successfully resized."
[ "${FAKE_OTHER_DISK:-}" = lvextend ] || { LV_EXT=$((LV_EXT + f)); save; }`,
	// e2fsprogs resize2fs: grows a mounted ext4 to its device's size.
	"resize2fs": `want=$(( LV_EXT * EXT / 4096 ))
echo "resize2fs 1.47.0 (5-Feb-2023)" >&2
if [ "$FS_BLOCKS" -eq "$want" ]; then
  echo "The filesystem is already $want (4k) blocks long.  Nothing to do!"; exit 0
fi
echo "Filesystem at $1 is mounted on /; on-line resizing required"
echo "The filesystem on $1 is now $want (4k) blocks long."
[ "${FAKE_OTHER_DISK:-}" = resize2fs ] || { FS_BLOCKS=$want; save; }`,
	"dumpe2fs": `echo "dumpe2fs 1.47.0 (5-Feb-2023)" >&2
printf 'Filesystem volume name:   nixos\nBlock count:              %s\nBlock size:               4096\nBlocks per group:         32768\n' "$FS_BLOCKS"`,
}

// growState is the model before a run.
type growState struct {
	disk, part, pv       int64 // bytes
	swapExt, lvExt, fsBl int64
}

const (
	gib = int64(1) << 30
	mib = int64(1) << 20
)

// grownTo is a node whose disk of the given size is filled: GPT partition 2
// from 2 MiB to the last usable sector, PV, 2 GiB swap, root and ext4.
func grownTo(disk int64) growState {
	part := disk - 2*mib - 33*512 // GPT: last usable sector = last sector - 33
	pv := (part - mib) / (4 * mib) * (4 * mib)
	swap := 2 * gib / (4 * mib)
	lv := pv/(4*mib) - swap
	return growState{disk: disk, part: part, pv: pv, swapExt: swap, lvExt: lv, fsBl: lv * 4 * mib / 4096}
}

// clone40 is that template cloned onto a 40 GiB disk.
func clone40() growState {
	s := grownTo(20 * gib)
	s.disk = 40 * gib
	return s
}

type growRun struct {
	exitCode int
	stderr   string
	calls    []string // "name arg1 arg2 ..."
	final    string   // the model after the run
}

func runGrowRoot(t *testing.T, state growState, env map[string]string) *growRun {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	stateDir := filepath.Join(dir, "state")
	sysfs := filepath.Join(dir, "sys")
	for _, d := range []string{bin, stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	model := fmt.Sprintf("DISK_SIZE=%d\nPART_START=4096\nPART_SIZE=%d\nPV_SIZE=%d\nSWAP_EXT=%d\nLV_EXT=%d\nFS_BLOCKS=%d\n",
		state.disk, state.part, state.pv, state.swapExt, state.lvExt, state.fsBl)
	if err := os.WriteFile(filepath.Join(stateDir, "model"), []byte(model), 0o644); err != nil {
		t.Fatal(err)
	}
	// The kernel's partition number of the PV partition (sysfs).
	kname := "/dev/sda"
	if k := env["FAKE_KNAME"]; k != "" {
		kname = k
	}
	partnum := "2"
	if p := env["FAKE_PARTNUM"]; p != "" {
		partnum = p
	}
	sep := ""
	if strings.ContainsAny(kname[len(kname)-1:], "0123456789") {
		sep = "p"
	}
	partDir := filepath.Join(sysfs, "class", "block", filepath.Base(kname+sep+partnum))
	if err := os.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// FAKE_NO_SYSFS_PARTITION=1: the kernel shows no partition attribute
	// (the device is not a partition, or sysfs is not mounted there).
	if env["FAKE_NO_SYSFS_PARTITION"] != "1" {
		if err := os.WriteFile(filepath.Join(partDir, "partition"), []byte(partnum+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	logFile := filepath.Join(dir, "calls.log")
	for name, body := range growFakes {
		// FAKE_FAIL=<name> fails every call of that tool, FAKE_FAIL=<name
		// args...> only the calls starting with those arguments. lsblk fails
		// as util-linux 2.38.1 lsblk does for a device that is not there
		// ("<dev>: not a block device", exit 32: none of the devices found,
		// lsblk(8) EXIT STATUS); the LVM tools and the others with exit 5
		// (lvm2 ECMD_FAILED, lib/commands/errors.h).
		fail := `case "` + name + ` $*" in
  "${FAKE_FAIL:-}" | "${FAKE_FAIL:-} "*)
    if [ "` + name + `" = lsblk ]; then echo "lsblk: ${!#}: not a block device" >&2; exit 32; fi
    echo "` + name + `: simulated failure" >&2; exit 5 ;;
esac
`
		testutil.WriteFake(t, bin, name, `echo "`+name+` $*" >> "$FAKE_LOG"
`+fail+growModelFuncs+body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, filepath.Join(testutil.RepoRoot(t), "nixos", "scripts", "grow-root.sh"))
	cmd.Env = append(os.Environ(),
		"PATH="+testutil.PathWith(bin),
		"FAKE_LOG="+logFile,
		"FAKE_STATE="+stateDir,
		"TMPDIR="+dir,
		"NIXLAB_VG=nixos-vg",
		"NIXLAB_LV=root",
		"NIXLAB_SYSFS="+sysfs,
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	r := &growRun{}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("grow-root.sh did not finish within 20s:\n%s", stderr.String())
	}
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			t.Fatalf("run grow-root.sh: %v", err)
		}
		r.exitCode = exitErr.ExitCode()
	}
	r.stderr = stderr.String()
	if b, err := os.ReadFile(logFile); err == nil {
		r.calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	if b, err := os.ReadFile(filepath.Join(stateDir, "model")); err == nil {
		r.final = string(b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	return r
}

// Call lines of a full run on /dev/sda2.
var (
	growLocate = []string{
		"lsblk --inverse --noheadings --raw --paths --output NAME,TYPE /dev/nixos-vg/root",
		"pvs --noheadings --options pv_name,vg_name",
	}
	growVerify = []string{
		"lsblk --nodeps --noheadings --raw --bytes --output SIZE /dev/sda",
		"lsblk --nodeps --noheadings --raw --bytes --output START,SIZE /dev/sda2",
		"pvs --devices /dev/sda2 --noheadings --units b --nosuffix --options dev_size,pe_start,pv_size,vg_extent_size /dev/sda2",
		"vgs --devices /dev/sda2 --noheadings --options vg_free_count nixos-vg",
		"lsblk --nodeps --noheadings --raw --bytes --output SIZE /dev/mapper/nixos--vg-root",
		"dumpe2fs -h /dev/mapper/nixos--vg-root",
	}
)

func growCalls(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestGrowRoot(t *testing.T) {
	grow := []string{
		"growpart /dev/sda 2",
		"pvresize --devices /dev/sda2 /dev/sda2",
		"vgs --devices /dev/sda2 --noheadings --options vg_free_count nixos-vg",
		"lvextend --devices /dev/sda2 -l +100%FREE nixos-vg/root /dev/sda2",
		"resize2fs /dev/mapper/nixos--vg-root",
	}
	noExtend := []string{grow[0], grow[1], grow[2], grow[4]}
	interrupted := grownTo(40 * gib) // partition already grown, PV not yet
	interrupted.pv, interrupted.lvExt = clone40().pv, clone40().lvExt
	interrupted.fsBl = interrupted.lvExt * 4 * mib / 4096
	tests := []struct {
		name      string
		state     growState
		env       map[string]string
		wantCalls []string
		wantExit  int
		wantLogs  []string
	}{
		{
			name:      "clone on a bigger disk",
			state:     clone40(),
			wantCalls: growCalls(growLocate, grow, growVerify),
			wantLogs: []string{"root nixos-vg/root (/dev/mapper/nixos--vg-root) is on /dev/sda2, partition 2 of /dev/sda",
				"grew partition 2 of /dev/sda", "free extents on /dev/sda2", "done: partition 2 of /dev/sda, PV /dev/sda2, nixos-vg/root and its ext4"},
		},
		{
			// The usual boot: pvresize and resize2fs still run (both
			// idempotent), no lvextend; the result is still verified.
			name:      "nothing to do",
			state:     grownTo(20 * gib),
			wantCalls: growCalls(growLocate, noExtend, growVerify),
			wantLogs:  []string{"already fills the disk", "no free extents", "done: "},
		},
		{
			name:      "boot interrupted after growpart",
			state:     interrupted,
			wantCalls: growCalls(growLocate, grow, growVerify),
			wantLogs:  []string{"already fills the disk", "free extents on /dev/sda2", "done: "},
		},
		{
			name:  "NVMe disk",
			state: clone40(),
			env:   map[string]string{"FAKE_KNAME": "/dev/nvme0n1"},
			wantLogs: []string{"growpart /dev/nvme0n1 2", "pvresize --devices /dev/nvme0n1p2 /dev/nvme0n1p2",
				"lvextend --devices /dev/nvme0n1p2 -l +100%FREE nixos-vg/root /dev/nvme0n1p2",
				"is on /dev/nvme0n1p2, partition 2 of /dev/nvme0n1", "done: "},
		},
		{
			// Nodes installed with the old msdos layout keep working: the
			// PV partition's number comes from the kernel.
			name:     "old layout, PV on partition 1",
			state:    clone40(),
			env:      map[string]string{"FAKE_PARTNUM": "1", "FAKE_LABEL": "msdos"},
			wantLogs: []string{"partition 1 of /dev/sda", "done: "},
		},
		// Failures: unit fails, the cause is named.
		{
			name:      "second copy of the PV attached",
			state:     clone40(),
			env:       map[string]string{"FAKE_DUPLICATE": "pv"},
			wantCalls: growLocate,
			wantExit:  1,
			wantLogs:  []string{"LVM sees a second copy of this node's volume group nixos-vg", "WARNING: Not using device /dev/sdb2", "nothing was resized"},
		},
		{
			name:      "another VG named nixos-vg attached",
			state:     clone40(),
			env:       map[string]string{"FAKE_DUPLICATE": "vg", "FAKE_PVS_EXTRA": "/dev/sdb nixos-vg"},
			wantCalls: growLocate,
			wantExit:  1,
			wantLogs:  []string{"VG name nixos-vg is used by VGs"},
		},
		{
			// Without a warning, a second PV in the VG is still refused.
			name:      "VG with a second PV",
			state:     clone40(),
			env:       map[string]string{"FAKE_PVS_EXTRA": "/dev/sdb1 nixos-vg"},
			wantCalls: growLocate,
			wantExit:  1,
			wantLogs:  []string{"volume group nixos-vg must have exactly one PV, /dev/sda2; LVM lists [/dev/sda2 /dev/sdb1]"},
		},
		{
			name:      "pvresize resizes nothing and exits 0",
			state:     clone40(),
			env:       map[string]string{"FAKE_PVRESIZE": "none"},
			wantCalls: growCalls(growLocate, grow[:2]),
			wantExit:  1,
			wantLogs:  []string{"pvresize /dev/sda2 resized nothing: 0 physical volume(s) resized or updated"},
		},
		{
			name:     "pvresize reports success but our PV kept its size",
			state:    clone40(),
			env:      map[string]string{"FAKE_PVRESIZE": "stale"},
			wantExit: 1,
			wantLogs: []string{"PV /dev/sda2", "does not fill its partition"},
		},
		{
			name:      "pvresize refuses duplicate PVs",
			state:     clone40(),
			env:       map[string]string{"FAKE_PVRESIZE": "dupfail"},
			wantCalls: growCalls(growLocate, grow[:2]),
			wantExit:  1,
			wantLogs:  []string{"pvresize /dev/sda2: LVM sees a second copy of the PV"},
		},
		{
			name:      "lvextend grew another disk's LV",
			state:     clone40(),
			env:       map[string]string{"FAKE_OTHER_DISK": "lvextend"},
			wantCalls: growCalls(growLocate, grow, growVerify[:4]),
			wantExit:  1,
			wantLogs:  []string{"volume group nixos-vg still has 5120 free extents"},
		},
		{
			name:      "resize2fs grew another disk's filesystem",
			state:     clone40(),
			env:       map[string]string{"FAKE_OTHER_DISK": "resize2fs"},
			wantCalls: growCalls(growLocate, grow, growVerify),
			wantExit:  1,
			wantLogs:  []string{"ext4 on /dev/mapper/nixos--vg-root", "does not fill its volume"},
		},
		{
			// An msdos label cannot address past 2 TiB: growpart stops there.
			name:     "msdos label on a 4 TiB disk",
			state:    func() growState { s := grownTo(20 * gib); s.disk = 4096 * gib; return s }(),
			env:      map[string]string{"FAKE_LABEL": "msdos"},
			wantExit: 1,
			wantLogs: []string{"partition 2 of /dev/sda ends", "before the end of the disk"},
		},
		{
			name:      "growpart fails",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "growpart"},
			wantCalls: growCalls(growLocate, grow[:1]),
			wantExit:  1,
			wantLogs:  []string{"growpart /dev/sda 2 failed (exit 5): growpart: simulated failure"},
		},
		{
			name:      "pvresize fails",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "pvresize"},
			wantCalls: growCalls(growLocate, grow[:2]),
			wantExit:  1,
			wantLogs:  []string{"pvresize /dev/sda2 failed (exit 5)"},
		},
		{
			name:      "vgs fails",
			state:     grownTo(20 * gib),
			env:       map[string]string{"FAKE_FAIL": "vgs"},
			wantCalls: growCalls(growLocate, grow[:3]),
			wantExit:  1,
			wantLogs:  []string{"vgs nixos-vg failed: vgs: simulated failure"},
		},
		{
			name:      "vgs prints garbage",
			state:     grownTo(20 * gib),
			env:       map[string]string{"FAKE_VG_FREE_OVERRIDE": "lots"},
			wantCalls: growCalls(growLocate, grow[:3]),
			wantExit:  1,
			wantLogs:  []string{"unexpected free extent count: 'lots'"},
		},
		{
			name:      "lvextend fails",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "lvextend"},
			wantCalls: growCalls(growLocate, grow[:4]),
			wantExit:  1,
			wantLogs:  []string{"lvextend nixos-vg/root failed"},
		},
		{
			name:      "resize2fs fails",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "resize2fs"},
			wantCalls: growCalls(growLocate, grow),
			wantExit:  1,
			wantLogs:  []string{"resize2fs /dev/mapper/nixos--vg-root failed"},
		},
		{
			name:      "root LV not active",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "lsblk"},
			wantCalls: growLocate[:1],
			wantExit:  1,
			wantLogs:  []string{"lsblk --inverse /dev/nixos-vg/root failed: lsblk: /dev/nixos-vg/root: not a block device"},
		},
		{
			// A PV made on the whole disk: no partition to grow.
			name:      "root LV on a whole-disk PV",
			state:     clone40(),
			env:       map[string]string{"FAKE_LSBLK_INVERSE": "/dev/mapper/nixos--vg-root lvm\n/dev/sdb disk"},
			wantCalls: growLocate[:1],
			wantExit:  1,
			wantLogs:  []string{"/dev/nixos-vg/root must sit on exactly one partition of one disk; the kernel lists partitions [] on disks [/dev/sdb]"},
		},
		{
			name:      "partition number not in sysfs",
			state:     clone40(),
			env:       map[string]string{"FAKE_NO_SYSFS_PARTITION": "1"},
			wantCalls: growLocate[:1],
			wantExit:  1,
			wantLogs:  []string{"cannot read the partition number of /dev/sda2 from ", "/class/block/sda2/partition"},
		},
		{
			name:      "pvs fails",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "pvs"},
			wantCalls: growLocate,
			wantExit:  1,
			wantLogs:  []string{"pvs failed (exit 5): pvs: simulated failure"},
		},
		{
			// The disk went away after resize2fs: verify cannot size it.
			name:      "lsblk fails when verifying",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "lsblk --nodeps --noheadings --raw --bytes --output SIZE /dev/sda"},
			wantCalls: growCalls(growLocate, grow, growVerify[:1]),
			wantExit:  1,
			wantLogs:  []string{"lsblk /dev/sda failed: lsblk: /dev/sda: not a block device"},
		},
		{
			name:      "pvs fails when verifying",
			state:     clone40(),
			env:       map[string]string{"FAKE_FAIL": "pvs --devices"},
			wantCalls: growCalls(growLocate, grow, growVerify[:3]),
			wantExit:  1,
			wantLogs:  []string{"pvs /dev/sda2 failed: pvs: simulated failure"},
		},
		{
			name:      "root LV on two partitions",
			state:     clone40(),
			env:       map[string]string{"FAKE_LSBLK_INVERSE": "/dev/mapper/nixos--vg-root lvm\n/dev/sda2 part\n/dev/sda disk\n/dev/sdb1 part\n/dev/sdb disk"},
			wantCalls: growLocate[:1],
			wantExit:  1,
			wantLogs:  []string{"must sit on exactly one partition of one disk"},
		},
		{
			name:      "dumpe2fs fails",
			state:     grownTo(20 * gib),
			env:       map[string]string{"FAKE_FAIL": "dumpe2fs"},
			wantCalls: growCalls(growLocate, noExtend, growVerify),
			wantExit:  1,
			wantLogs:  []string{"dumpe2fs -h /dev/mapper/nixos--vg-root failed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runGrowRoot(t, tc.state, tc.env)
			if r.exitCode != tc.wantExit {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.exitCode, tc.wantExit, r.stderr)
			}
			if tc.wantCalls != nil && !reflect.DeepEqual(r.calls, tc.wantCalls) {
				t.Errorf("calls\n got: %q\nwant: %q", r.calls, tc.wantCalls)
			}
			log := r.stderr + "\n" + strings.Join(r.calls, "\n")
			for _, want := range tc.wantLogs {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, r.stderr)
				}
			}
			if tc.wantExit != 0 && !strings.Contains(r.stderr, "nixlab-grow-root: ERROR: ") {
				t.Errorf("failure not reported as an ERROR line:\n%s", r.stderr)
			}
			if tc.wantExit == 0 && strings.Contains(r.stderr, "ERROR") {
				t.Errorf("success run logged an ERROR:\n%s", r.stderr)
			}
			if tc.wantExit == 0 && strings.Contains(log, " done") && !strings.Contains(r.stderr, "done: ") {
				t.Errorf("no verified done line:\n%s", r.stderr)
			}
			// Nothing is resized before the duplicate check passed.
			if strings.Contains(tc.name, "attached") || strings.Contains(tc.name, "second PV") {
				for _, c := range r.calls {
					if strings.HasPrefix(c, "growpart") || strings.HasPrefix(c, "pvresize") {
						t.Errorf("%s ran although LVM saw a duplicate", c)
					}
				}
			}
		})
	}
}

// After a successful run on a bigger disk, the model really is full.
func TestGrowRootFillsTheDisk(t *testing.T) {
	r := runGrowRoot(t, clone40(), nil)
	if r.exitCode != 0 {
		t.Fatalf("exit %d:\n%s", r.exitCode, r.stderr)
	}
	want := grownTo(40 * gib)
	wantModel := fmt.Sprintf("DISK_SIZE=%d\nPART_START=4096\nPART_SIZE=%d\nPV_SIZE=%d\nSWAP_EXT=%d\nLV_EXT=%d\nFS_BLOCKS=%d\n",
		want.disk, want.part, want.pv, want.swapExt, want.lvExt, want.fsBl)
	if r.final != wantModel {
		t.Errorf("after the run\n got: %s\nwant: %s", r.final, wantModel)
	}
}

// The real growpart (cloud-guest-utils) on a GPT image behaves as the fake
// does: CHANGED and exit 0 when it grows partition 2 to the last usable
// sector (33 sectors before the end), NOCHANGE and exit 1 when run again.
func TestGrowpartRealBehaviour(t *testing.T) {
	growpart := testutil.RequireTool(t, "growpart")
	parted := testutil.RequireTool(t, "parted")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64*mib); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(parted, "-s", img, "--", "mklabel", "gpt", "mkpart", "bios", "1MiB", "2MiB",
		"set", "1", "bios_grub", "on", "mkpart", "lvm", "2MiB", "100%", "set", "2", "lvm", "on").CombinedOutput(); err != nil {
		t.Fatalf("parted: %v\n%s", err, out)
	}
	if err := os.Truncate(img, 128*mib); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(growpart, img, "2").CombinedOutput()
	total := 128 * mib / 512
	want := fmt.Sprintf(" new: size=%d end=%d", total-34-4096+1, total-34)
	if err != nil || !strings.HasPrefix(string(out), "CHANGED: partition=2 start=4096 old: ") || !strings.Contains(string(out), want) {
		t.Errorf("first growpart: %v %q, want CHANGED ...%s", err, out, want)
	}
	out, err = exec.Command(growpart, img, "2").CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || !strings.HasPrefix(string(out), "NOCHANGE: partition 2 is size ") {
		t.Errorf("second growpart: %v %q, want exit 1 with NOCHANGE", err, out)
	}
}
