// Package diskvm is the real-tool test lane for nixos/scripts/install.sh
// and nixos/scripts/grow-root.sh: it boots Debian's kernel under qemu
// (software emulation) with a small initramfs holding busybox, udev and
// the real parted, LVM, e2fsprogs, util-linux and growpart, attaches sparse
// raw images as virtio-scsi disks (so the guest sees /dev/sd* as a Proxmox
// VM does), runs the scripts from the work tree on them and checks the
// result with the same tools. The host device-mapper is not needed.
//
// Two boots: "prepare" installs on blank disks and makes the refusal
// fixtures; "check" runs the refusal matrix (every image byte-identical
// afterwards, by a sparse-aware checksum) and grow-root on clones.
// Only nixos-install and systemctl are stand-ins (guest/bin): the guest has
// no Nix and no systemd.
package diskvm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	gib          = int64(1) << 30
	mib          = int64(1) << 20
	templateSize = 20 * gib   // nixlab:template.diskSizeGb default
	grownSize    = 40 * gib   // a clone with a bigger disk
	bigSize      = 2560 * gib // 2.5 TiB: past what an msdos label addresses
	swapGiB      = 2
	systemPath   = "/nix/store/00000000000000000000000000000000-nixos-system-diskvm"
)

// diskPlan is one image of a boot: blank, or a sparse copy of an image an
// earlier phase left (from), grown to size; stays=true means it must be
// byte-identical after the boot.
type diskPlan struct {
	name  string
	size  int64
	from  string
	stays bool
}

// bootPlan is one guest boot: guest/boot-<name>.sh with these disks, and
// the checks of what it reported.
type bootPlan struct {
	name   string
	disks  []diskPlan
	checks func(t *testing.T, f facts)
}

// The lane: two phases of two boots each, the boots of a phase in
// parallel (two emulated CPUs keep both host cores busy).
var phases = [][]bootPlan{
	{
		{name: "install", checks: checkInstall, disks: []diskPlan{
			{name: "inst-swap", size: templateSize},
			{name: "inst-noswap", size: templateSize},
			{name: "inst-big", size: bigSize},
		}},
		{name: "fixtures", checks: checkFixtures, disks: []diskPlan{
			{name: "fix-ext4", size: templateSize},
			{name: "fix-lvm", size: templateSize},
			{name: "fix-msdos", size: templateSize},
			{name: "fix-gpt", size: templateSize},
		}},
	},
	{
		{name: "refuse", checks: checkRefuse, disks: []diskPlan{
			{name: "fix-ext4", from: "fix-ext4", size: templateSize, stays: true},
			{name: "fix-lvm", from: "fix-lvm", size: templateSize, stays: true},
			{name: "fix-msdos", from: "fix-msdos", size: templateSize, stays: true},
			{name: "fix-gpt", from: "fix-gpt", size: templateSize, stays: true},
			{name: "fix-data", from: "fix-data", size: templateSize, stays: true},
			{name: "fix-data-tail", from: "fix-data-tail", size: templateSize, stays: true},
			{name: "blank-1", size: templateSize, stays: true},
			{name: "other-vg-1", from: "inst-noswap", size: templateSize, stays: true},
			{name: "blank-2", size: templateSize, stays: true},
			{name: "other-vg-2", from: "inst-noswap", size: templateSize, stays: true},
			{name: "other-vg-3", from: "inst-swap", size: templateSize, stays: true},
			{name: "blank-3", size: templateSize, stays: true},
			{name: "other-vg-4", from: "inst-noswap", size: templateSize, stays: true},
		}},
		{name: "grow", checks: checkGrow, disks: []diskPlan{
			{name: "clone-40g", from: "inst-swap", size: grownSize},
			{name: "clone-same", from: "inst-noswap", size: templateSize},
			{name: "clone-dup", from: "inst-noswap", size: grownSize},
			{name: "template-copy", from: "inst-noswap", size: templateSize, stays: true},
			{name: "clone-big", from: "inst-noswap", size: bigSize},
		}},
	},
}

// lane holds the state shared by the boots.
type lane struct {
	t      *testing.T
	vt     *vmTools
	work   string
	initrd string
	start  time.Time
}

func (l *lane) image(name string) string { return filepath.Join(l.work, name+".img") }

func (l *lane) bootImage(boot, name string) string {
	return filepath.Join(l.work, boot+"-"+name+".img")
}

// attach creates or clones the images of a boot and returns them with
// the checksums of the ones that must stay.
func (l *lane) attach(b bootPlan) ([]vmDisk, map[string]string) {
	l.t.Helper()
	var disks []vmDisk
	sums := map[string]string{}
	for i, d := range b.disks {
		p := l.bootImage(b.name, d.name)
		var err error
		if d.from == "" {
			err = newSparseImage(p, d.size)
		} else {
			err = sparseCopy(l.image(d.from), p, d.size)
		}
		if err != nil {
			l.t.Fatalf("image %s: %v", d.name, err)
		}
		if d.stays {
			if sums[d.name], err = sparseHash(p); err != nil {
				l.t.Fatal(err)
			}
		}
		disks = append(disks, vmDisk{name: d.name, path: p, scsiID: i})
	}
	return disks, sums
}

// runPhase boots a phase's plans in parallel, then checks each: the guest
// finished, the images that must stay are byte-identical, the facts pass.
// A boot's images become the named images later phases clone from.
func (l *lane) runPhase(plans []bootPlan, timeout time.Duration) {
	l.t.Helper()
	type run struct {
		disks []vmDisk
		sums  map[string]string
		res   *bootResult
		err   error
	}
	runs := make([]*run, len(plans))
	for i, b := range plans {
		disks, sums := l.attach(b)
		runs[i] = &run{disks: disks, sums: sums}
	}
	var wg sync.WaitGroup
	for i, b := range plans {
		wg.Add(1)
		go func(r *run, b bootPlan) {
			defer wg.Done()
			r.res, r.err = bootVM(l.vt, l.initrd, l.work, b.name, r.disks, timeout)
		}(runs[i], b)
	}
	wg.Wait()
	for i, b := range plans {
		r := runs[i]
		l.t.Logf("boot %s: %s (lane so far %s)", b.name, r.res.elapsed.Round(time.Second), time.Since(l.start).Round(time.Second))
		if r.err != nil {
			l.t.Fatalf("%v\n--- console of boot %s (last 150 lines) ---\n%s", r.err, b.name, consoleTail(r.res.console, 150))
		}
		if os.Getenv("NIXLAB_DISKVM_CONSOLE") != "" {
			l.t.Logf("--- console of boot %s ---\n%s", b.name, r.res.console)
		}
		failedBefore := l.t.Failed()
		for _, d := range b.disks {
			if !d.stays {
				continue
			}
			got, err := sparseHash(l.bootImage(b.name, d.name))
			if err != nil {
				l.t.Fatal(err)
			}
			if got != r.sums[d.name] {
				l.t.Errorf("boot %s: image %s changed; it must stay byte-identical", b.name, d.name)
			}
		}
		b.checks(l.t, r.res.facts)
		if l.t.Failed() && !failedBefore && os.Getenv("NIXLAB_DISKVM_CONSOLE") == "" {
			l.t.Logf("--- console of boot %s (last 300 lines; NIXLAB_DISKVM_CONSOLE=1 shows all) ---\n%s", b.name, consoleTail(r.res.console, 300))
		}
		for _, d := range b.disks {
			if err := os.Rename(l.bootImage(b.name, d.name), l.image(d.name)); err != nil {
				l.t.Fatal(err)
			}
		}
	}
}

// TestDiskScriptsOnRealTools is the lane. Set NIXLAB_DISKVM_CONSOLE=1 to
// see the guest consoles in the log, NIXLAB_DISKVM_KEEP=<dir> to work in
// (and keep) that directory.
func TestDiskScriptsOnRealTools(t *testing.T) {
	if testing.Short() {
		t.Skip("the disk VM lane takes minutes; not with -short")
	}
	vt := findVMTools(t)
	work := os.Getenv("NIXLAB_DISKVM_KEEP")
	if work == "" {
		work = t.TempDir()
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("images, initramfs and consoles are kept in %s (NIXLAB_DISKVM_KEEP)", work)
		for _, old := range mustGlob(t, filepath.Join(work, "*.img")) {
			os.Remove(old)
		}
	}
	l := &lane{t: t, vt: vt, work: work, start: time.Now()}
	l.initrd = filepath.Join(l.work, "initrd.cpio")
	buildInitramfs(t, vt, l.initrd)
	st, _ := os.Stat(l.initrd)
	t.Logf("kernel %s, initramfs %d MiB built in %s", vt.kernel, st.Size()>>20, time.Since(l.start).Round(time.Millisecond))

	for name, off := range map[string]int64{"fix-data": dataFixtureOffset, "fix-data-tail": templateSize - 4096} {
		if err := writeDataFixture(l.image(name), templateSize, off); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range phases {
		// Each phase gets its share of the time left (the last one all
		// but a margin for the checks).
		l.runPhase(p, bootTimeout(t, 0.9/float64(len(phases)-i)))
	}
	t.Logf("lane took %s", time.Since(l.start).Round(time.Second))
}

// bootTimeout gives a phase the share of the time left before the test's
// deadline (go test -timeout), at most 12 minutes, so that a hung guest
// fails the test with its console instead of the test binary being killed.
func bootTimeout(t *testing.T, share float64) time.Duration {
	limit := 12 * time.Minute
	if dl, ok := t.Deadline(); ok {
		if left := time.Duration(float64(time.Until(dl)) * share); left < limit {
			limit = left
		}
	}
	return limit
}

// writeDataFixture writes an image that is all zeros except 4 KiB of data
// at offset: an old disk whose start was wiped, with data behind it.
func writeDataFixture(path string, size, offset int64) error {
	if err := newSparseImage(path, size); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	data := []byte(strings.Repeat("nixlab old data ", 256)) // 4 KiB
	if _, err := f.WriteAt(data, offset); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// dataFixtureOffset is where the fix-data image holds its data: past the
// first MiB (a check of only the first MiB misses it), before 16 MiB.
const dataFixtureOffset = 4 * mib

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
