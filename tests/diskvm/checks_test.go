package diskvm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// partition is one line of `parted -s -m DISK unit B print`:
// "number:startB:endB:sizeB:filesystem:name:flags;".
type partition struct {
	number           int
	start, end, size int64
	flags            string
}

func parsePartition(line string) (partition, error) {
	f := strings.Split(strings.TrimSuffix(line, ";"), ":")
	if len(f) < 7 {
		return partition{}, fmt.Errorf("parted line %q has %d fields", line, len(f))
	}
	var p partition
	var err error
	if p.number, err = strconv.Atoi(f[0]); err != nil {
		return p, fmt.Errorf("parted line %q: %w", line, err)
	}
	for i, dst := range []*int64{&p.start, &p.end, &p.size} {
		if *dst, err = strconv.ParseInt(strings.TrimSuffix(f[i+1], "B"), 10, 64); err != nil {
			return p, fmt.Errorf("parted line %q: %w", line, err)
		}
	}
	p.flags = f[6]
	return p, nil
}

// csvInts splits "name,1,2,..." into the name and the integers.
func csvInts(line string) (string, []int64, error) {
	f := strings.Split(line, ",")
	var out []int64
	for _, s := range f[1:] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return f[0], nil, fmt.Errorf("%q: %w", line, err)
		}
		out = append(out, n)
	}
	return f[0], out, nil
}

// reporter wraps the facts of one scenario for assertions.
type reporter struct {
	t        *testing.T
	f        facts
	scenario string
}

func (r reporter) get(key string) string {
	r.t.Helper()
	v, ok := r.f.get(r.scenario, key)
	if !ok {
		r.t.Errorf("%s: the guest reported no %s", r.scenario, key)
	}
	return v
}

func (r reporter) all(key string) []string { return r.f[r.scenario][key] }

func (r reporter) equal(key, want string) {
	r.t.Helper()
	if got := r.get(key); got != want {
		r.t.Errorf("%s: %s = %q, want %q", r.scenario, key, got, want)
	}
}

func (r reporter) match(key, pattern string) {
	r.t.Helper()
	if got := r.get(key); !regexp.MustCompile(pattern).MatchString(got) {
		r.t.Errorf("%s: %s = %q, want a match for %s", r.scenario, key, got, pattern)
	}
}

func (r reporter) int(key string) int64 {
	r.t.Helper()
	v := r.get(key)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.t.Errorf("%s: %s = %q is not a number", r.scenario, key, v)
	}
	return n
}

// completed fails unless the guest got to the scenario's end.
func (r reporter) completed() bool {
	r.t.Helper()
	if _, ok := r.f.get(r.scenario, "end"); !ok {
		r.t.Errorf("%s: the guest never finished this scenario (facts: %v)", r.scenario, r.f[r.scenario])
		return false
	}
	return true
}

// layout is what the real tools reported for a disk in one phase.
type layout struct {
	diskBytes  int64
	pttype     string
	parts      []partition
	pvDev      string // PV on the disk (the device LVM names)
	pvSize     int64
	pvFree     int64
	pvDevSize  int64
	vgSize     int64
	vgFree     int64
	extent     int64
	pvCount    int64
	lvs        map[string]int64
	fsBytes    int64
	partDevice map[int]string // partition number -> kernel device
}

func (r reporter) layout(phase string) layout {
	r.t.Helper()
	l := layout{lvs: map[string]int64{}, partDevice: map[int]string{}}
	l.diskBytes = r.int(phase + ".disk-bytes")
	l.pttype = r.get(phase + ".pttype")
	for _, line := range r.all(phase + ".part") {
		p, err := parsePartition(line)
		if err != nil {
			r.t.Errorf("%s: %v", r.scenario, err)
			continue
		}
		l.parts = append(l.parts, p)
	}
	n := 0
	for _, line := range r.all(phase + ".blk") { // NAME TYPE SIZE
		f := strings.Fields(line)
		if len(f) == 3 && f[1] == "part" {
			n++
			l.partDevice[n] = f[0]
		}
	}
	for _, line := range r.all(phase + ".pv") { // pv,vg,size,free,dev_size
		f := strings.Split(line, ",")
		if len(f) != 5 {
			continue
		}
		name, nums, err := csvInts(strings.Join(append([]string{f[0]}, f[2:]...), ","))
		if err != nil || f[1] != "nixos-vg" {
			continue
		}
		l.pvDev, l.pvSize, l.pvFree, l.pvDevSize = name, nums[0], nums[1], nums[2]
	}
	if name, nums, err := csvInts(r.get(phase + ".vg")); err == nil && name == "nixos-vg" && len(nums) == 5 {
		l.vgSize, l.vgFree, l.extent, l.pvCount = nums[0], nums[1], nums[2], nums[3]
	} else {
		r.t.Errorf("%s: %s.vg = %q, want nixos-vg,size,free,extent,pvs,lvs", r.scenario, phase, r.get(phase+".vg"))
	}
	for _, line := range r.all(phase + ".lv") {
		if name, nums, err := csvInts(line); err == nil && len(nums) == 1 {
			l.lvs[name] = nums[0]
		}
	}
	l.fsBytes = r.int(phase + ".fs-bytes")
	return l
}

// gptTail is what a GPT leaves unusable at the end of a disk: the backup
// header and its 128-entry table (33 sectors of 512 bytes).
const gptTail = 33 * 512

// ext4Group is one ext4 block group: 32768 blocks of 4 KiB.
const ext4Group = 128 * mib

// checkFillsDisk asserts nixlab's layout (GPT: partition 1 a 1 MiB
// bios_grub partition at 1 MiB, partition 2 the LVM PV from 2 MiB to the
// end of the disk) and that the PV, the VG and the root LV with its ext4
// use all of it.
func (r reporter) checkFillsDisk(phase string, wantDisk, wantSwap int64) layout {
	r.t.Helper()
	l := r.layout(phase)
	if l.diskBytes != wantDisk {
		r.t.Errorf("%s %s: disk has %d bytes, want %d", r.scenario, phase, l.diskBytes, wantDisk)
	}
	if l.pttype != "gpt" {
		r.t.Errorf("%s %s: partition table %q, want gpt", r.scenario, phase, l.pttype)
	}
	if len(l.parts) != 2 {
		r.t.Errorf("%s %s: %d partitions %+v, want 2 (bios_grub, LVM)", r.scenario, phase, len(l.parts), l.parts)
		return l
	}
	p1, p2 := l.parts[0], l.parts[1]
	if p1.start != mib || p1.size != mib || !strings.Contains(p1.flags, "bios_grub") {
		r.t.Errorf("%s %s: partition 1 = %+v, want 1 MiB at 1 MiB flagged bios_grub", r.scenario, phase, p1)
	}
	if p2.start != 2*mib || !strings.Contains(p2.flags, "lvm") {
		r.t.Errorf("%s %s: partition 2 = %+v, want the LVM partition from 2 MiB", r.scenario, phase, p2)
	}
	if unused := l.diskBytes - gptTail - (p2.end + 1); unused < 0 || unused >= mib {
		r.t.Errorf("%s %s: partition 2 ends at %d, leaving %d bytes of the %d-byte disk unused", r.scenario, phase, p2.end, unused, l.diskBytes)
	}
	if want := l.partDevice[2]; l.pvDev != want {
		r.t.Errorf("%s %s: the nixos-vg PV is %q, want partition 2 %q", r.scenario, phase, l.pvDev, want)
	}
	if l.pvDevSize != p2.size {
		r.t.Errorf("%s %s: LVM sees a %d-byte device, partition 2 has %d bytes", r.scenario, phase, l.pvDevSize, p2.size)
	}
	// The PV's metadata area (1 MiB by default) and alignment leave less
	// than one extent plus a MiB; the rest must be in use.
	if gap := l.pvDevSize - l.pvSize; gap < 0 || gap >= l.extent+mib {
		r.t.Errorf("%s %s: PV %d bytes on a %d-byte partition: pvresize did not fill it", r.scenario, phase, l.pvSize, l.pvDevSize)
	}
	if l.pvFree != 0 || l.vgFree != 0 || l.pvCount != 1 {
		r.t.Errorf("%s %s: PV free %d, VG free %d, %d PVs; want everything allocated on one PV", r.scenario, phase, l.pvFree, l.vgFree, l.pvCount)
	}
	want := map[string]int64{"root": l.vgSize - wantSwap}
	if wantSwap > 0 {
		want["swap"] = wantSwap
	}
	if fmt.Sprint(l.lvs) != fmt.Sprint(want) {
		r.t.Errorf("%s %s: logical volumes %v, want %v", r.scenario, phase, l.lvs, want)
	}
	// mke2fs and resize2fs leave out a last block group too small to hold
	// its own metadata: less than one group (128 MiB at 4 KiB blocks).
	if gap := l.lvs["root"] - l.fsBytes; gap < 0 || gap >= ext4Group {
		r.t.Errorf("%s %s: ext4 spans %d bytes of the %d-byte root LV", r.scenario, phase, l.fsBytes, l.lvs["root"])
	}
	r.equal(phase+".fs", "ext4,nixos")
	if wantDisk < 100*gib { // the guest skips e2fsck on the 2.5 TiB disks
		r.equal(phase+".fsck-rc", "0")
	}
	if wantSwap > 0 {
		r.equal(phase+".swap", "swap,swap")
	}
	return l
}

// checkInstalled asserts a successful install and the clone-safe target.
func (r reporter) checkInstalled(wantDisk, wantSwap int64) {
	r.t.Helper()
	if !r.completed() {
		return
	}
	r.equal("install.rc", "0")
	r.match("install.status", `^done: `)
	r.equal("install.status-lines", "1")
	r.match("install.standins", `^nixos-install --system `+regexp.QuoteMeta(systemPath)+` --root /mnt .*;systemctl poweroff;$`)
	r.equal("install.mounted", "0")
	r.equal("install.swaps", "0")
	r.checkFillsDisk("after", wantDisk, wantSwap)
	r.equal("after.machine-id-bytes", "0")
	r.equal("after.ssh-host-keys", "0")
	r.equal("after.random-seed", "absent")
	r.equal("after.installed-system", systemPath)
}

// checkRefused asserts the installer refused before writing anything (the
// images' checksums are compared by the caller).
func (r reporter) checkRefused() {
	r.t.Helper()
	if !r.completed() {
		return
	}
	if r.get("install.rc") == "0" {
		r.t.Errorf("%s: install.sh exited 0 on a disk that is not empty", r.scenario)
	}
	r.match("install.status", `^failed: .*(?i:not empty|refus)`)
	r.equal("install.standins", "")
}

func checkInstall(t *testing.T, f facts) {
	t.Run("install-with-swap", func(t *testing.T) {
		reporter{t, f, "inst-swap"}.checkInstalled(templateSize, swapGiB*gib)
	})
	t.Run("install-without-swap", func(t *testing.T) {
		reporter{t, f, "inst-noswap"}.checkInstalled(templateSize, 0)
	})
	t.Run("install-above-2TiB", func(t *testing.T) {
		reporter{t, f, "inst-big"}.checkInstalled(bigSize, 0)
	})
}

// checkFixtures checks the fixtures themselves: what the refusals rest on.
func checkFixtures(t *testing.T, f facts) {
	for _, c := range []struct{ name, pttype, at1MiB, parts string }{
		{"fix-ext4", "", "ext4", "0"},
		{"fix-lvm", "", "LVM2_member", "0"},
		{"fix-msdos", "dos", "", "1"},
		{"fix-gpt", "gpt", "", "0"},
	} {
		t.Run("fixture-"+c.name, func(t *testing.T) {
			r := reporter{t, f, c.name}
			if !r.completed() {
				return
			}
			r.equal("pttype", c.pttype)
			r.equal("at-1mib", c.at1MiB)
			r.equal("parts", c.parts)
			if c.pttype == "" {
				r.equal("wipefs", "") // invisible to a whole-disk probe
			}
		})
	}
}

func checkRefuse(t *testing.T, f facts) {
	for _, sc := range []string{"refuse-ext4", "refuse-old-nixlab", "refuse-msdos", "refuse-gpt", "refuse-data", "refuse-data-tail"} {
		t.Run(sc, func(t *testing.T) { reporter{t, f, sc}.checkRefused() })
	}
	t.Run("blank-beside-two-vgs", func(t *testing.T) {
		r := reporter{t, f, "blank-beside-two-vgs"}
		r.checkRefused()
		r.match("install.status", `nixos-vg`)
	})
	// A blank disk beside another disk that holds a VG named nixos-vg
	// (inactive, or active as the ISO's udev leaves it) cannot take a second
	// VG of that name (vgcreate refuses a duplicate name, and an active one
	// holds the device-mapper names): the installer refuses before writing,
	// names the VG and where it is, and does not call the blank disk "not
	// empty" (the fault the issue reports).
	for _, sc := range []string{"blank-beside-vg", "blank-beside-active-vg"} {
		t.Run(sc, func(t *testing.T) {
			r := reporter{t, f, sc}
			r.checkRefused()
			r.match("install.status", `volume group nixos-vg already exists on this machine, on /dev/sd[a-z]+2 .*nothing was written`)
			if strings.Contains(r.get("install.status"), "not empty") {
				t.Errorf("%s: the blank disk was called not empty: %s", sc, r.get("install.status"))
			}
		})
	}
}

func checkGrow(t *testing.T, f facts) {
	t.Run("grow-40G-twice", func(t *testing.T) {
		r := reporter{t, f, "grow-40g"}
		if !r.completed() {
			return
		}
		r.equal("run1.rc", "0")
		first := r.checkFillsDisk("run1", grownSize, swapGiB*gib)
		r.equal("run2.rc", "0")
		second := r.checkFillsDisk("run2", grownSize, swapGiB*gib)
		if fmt.Sprint(first) != fmt.Sprint(second) {
			t.Errorf("the second grow changed the layout:\n%+v\n%+v", first, second)
		}
	})
	t.Run("grow-not-grown-clone", func(t *testing.T) {
		r := reporter{t, f, "grow-unchanged"}
		if !r.completed() {
			return
		}
		before := r.checkFillsDisk("before", templateSize, 0)
		r.equal("run1.rc", "0")
		after := r.checkFillsDisk("run1", templateSize, 0)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("grow-root changed a disk that was not grown:\n%+v\n%+v", before, after)
		}
	})
	t.Run("grow-duplicate-PV-fails", func(t *testing.T) {
		r := reporter{t, f, "grow-duplicate"}
		if !r.completed() {
			return
		}
		// The node's root was active and mounted when the copy appeared.
		for _, k := range []string{"activate-failed", "run1.mount-failed"} {
			if v, ok := r.f.get(r.scenario, k); ok {
				t.Errorf("grow-duplicate: %s %s: the scenario did not set up a running node", k, v)
			}
		}
		if r.get("run1.rc") == "0" {
			t.Errorf("grow-root succeeded with a second copy of the VG attached (stderr: %s)", r.get("run1.stderr"))
		}
		r.match("run1.stderr", `ERROR: .*(?i:duplicate|second copy)`)
	})
	t.Run("grow-above-2TiB", func(t *testing.T) {
		r := reporter{t, f, "grow-big"}
		if !r.completed() {
			return
		}
		r.equal("run1.rc", "0")
		r.checkFillsDisk("run1", bigSize, 0)
	})
}
