package diskvm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// debianPackages is what a Debian machine needs for this lane, and what
// the skip/failure messages tell to install.
const debianPackages = "qemu-system-x86 linux-image-amd64 busybox-static kmod parted lvm2 e2fsprogs cloud-guest-utils udev fdisk"

// guestModules are the kernel modules the guest loads (with their
// dependencies, in modprobe's order): the virtio-scsi disks as on Proxmox,
// device-mapper for LVM, ext4. crc32c_generic backs ext4's metadata
// checksums on any CPU.
var guestModules = []string{"virtio_pci", "virtio_scsi", "sd_mod", "dm_mod", "crc32c_generic", "ext4"}

// requiredCommands must be found on the host (by PATH lookup) and are
// copied into the guest with their libraries: every disk tool the scripts
// run is the real Debian binary.
var requiredCommands = []string{
	"bash", "sh", "busybox", "insmod", "parted", "partprobe", "lvm", "dmsetup",
	"mkfs.ext4", "mke2fs", "e2fsck", "resize2fs", "dumpe2fs", "tune2fs",
	"growpart", "udevadm", "blkid", "wipefs", "lsblk", "sfdisk", "partx",
	"mkswap", "swapon", "swapoff", "mount", "umount", "mountpoint",
	"findmnt", "blockdev", "flock", "cmp", "awk", "sed", "grep", "find",
	"xargs", "timeout", "dd", "od", "head", "tail", "tr", "cat", "stat",
}

// optionalCommands are copied when present: the rest of the userland a
// NixOS systemd unit's PATH has (coreutils, util-linux), and every LVM
// command name (each a symlink to lvm on Debian).
var optionalCommands = strings.Fields(`
	basename chmod chown cp cut date df dirname du echo env expr false id
	install ln ls mkdir mknod mktemp mv nproc printf readlink realpath rm
	rmdir seq sha256sum sleep sort sync tee test touch true truncate uname
	uniq wc yes numfmt comm paste fold diff hexdump getopt logger sgdisk
	e2label debugfs fsck fsck.ext4 mkfs losetup
	pvcreate pvremove pvresize pvs pvscan pvdisplay pvchange pvck pvmove
	vgcreate vgremove vgs vgscan vgchange vgdisplay vgextend vgreduce
	vgrename vgimportclone vgck vgcfgbackup vgcfgrestore
	lvcreate lvremove lvs lvscan lvchange lvdisplay lvextend lvresize
	lvreduce lvrename`)

// vmTools is what booting the guest needs on the host.
type vmTools struct {
	qemu     string
	kernel   string // /boot/vmlinuz-<version>
	version  string // its /lib/modules/<version>
	modprobe string
	ldd      string
}

// skipOrFail skips the test with msg, or fails it under
// NIXLAB_REQUIRE_TOOLS=1 (CI), so that a missing tool never turns CI green.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("NIXLAB_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s (NIXLAB_REQUIRE_TOOLS=1; install the Debian packages: %s)", msg, debianPackages)
	}
	t.Skipf("%s; install the Debian packages %s, or set NIXLAB_REQUIRE_TOOLS=1 to make this a failure", msg, debianPackages)
}

// findVMTools locates qemu, a kernel with its modules, modprobe and ldd.
func findVMTools(t *testing.T) *vmTools {
	t.Helper()
	vt := &vmTools{}
	for _, c := range []struct {
		name string
		dst  *string
	}{{"qemu-system-x86_64", &vt.qemu}, {"modprobe", &vt.modprobe}, {"ldd", &vt.ldd}} {
		p, err := exec.LookPath(c.name)
		if err != nil {
			// modprobe lives in /sbin, off a non-root PATH.
			if p2 := filepath.Join("/usr/sbin", c.name); fileExists(p2) {
				p, err = p2, nil
			}
		}
		if err != nil {
			skipOrFail(t, "%s not found", c.name)
		}
		*c.dst = p
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(kernels)))
	for _, k := range kernels {
		v := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		if fileExists(filepath.Join("/lib/modules", v, "modules.dep")) {
			vt.kernel, vt.version = k, v
			break
		}
	}
	if vt.kernel == "" {
		skipOrFail(t, "no /boot/vmlinuz-<version> with /lib/modules/<version>/modules.dep (found %v)", kernels)
	}
	return vt
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// modulePaths lists the .ko files to insmod, dependencies first, without
// repeats, as `modprobe --show-depends` resolves them for the kernel.
func (vt *vmTools) modulePaths(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	var order []string
	for _, m := range guestModules {
		out, err := exec.Command(vt.modprobe, "--set-version", vt.version, "--show-depends", m).CombinedOutput()
		if err != nil {
			skipOrFail(t, "kernel %s has no module %s: %v: %s", vt.version, m, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 || f[0] != "insmod" { // "builtin ext4"
				continue
			}
			if !seen[f[1]] {
				seen[f[1]] = true
				order = append(order, f[1])
			}
		}
	}
	return order
}

// buildInitramfs assembles the guest's root file system: busybox and the
// Debian tools with their libraries, udev's rules and helpers, the kernel
// modules, the guest scripts from tests/diskvm/guest and the nixlab
// scripts under test as they are in the work tree now.
func buildInitramfs(t *testing.T, vt *vmTools, out string) {
	t.Helper()
	root := testutil.RepoRoot(t)
	guest := filepath.Join(root, "tests", "diskvm", "guest")
	tree := newFSTree(vt.ldd)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"/bin", "/sbin", "/lib", "/lib64"} {
		if fileExists(dir) {
			must(tree.addHostPath(dir)) // merged /usr: symlinks
		}
	}
	var missing []string
	for _, c := range requiredCommands {
		p, err := lookPathSbin(c)
		if err != nil {
			missing = append(missing, c)
			continue
		}
		must(tree.addHostPath(p))
	}
	if len(missing) > 0 {
		skipOrFail(t, "commands the guest needs are missing on this machine: %v", missing)
	}
	for _, c := range optionalCommands {
		if p, err := lookPathSbin(c); err == nil {
			must(tree.addHostPath(p))
		}
	}
	// udevd and its rules and helpers, without the 10 MB hardware database.
	must(tree.addHostPath("/lib/systemd/systemd-udevd"))
	must(tree.addHostTree("/lib/udev", func(name string) bool { return name == "hwdb.bin" || name == "hwdb.d" }))
	for _, f := range []string{"/etc/udev/udev.conf", "/etc/mke2fs.conf"} {
		if fileExists(f) {
			must(tree.addHostPath(f))
		}
	}
	mods := vt.modulePaths(t)
	for _, m := range mods {
		must(tree.addHostFile(m, m))
	}
	tree.addData("/diskvm/modules", []byte(strings.Join(mods, "\n")+"\n"), 0o644)

	guestFile := func(dst, src string, perm uint32) {
		data, err := os.ReadFile(src)
		must(err)
		tree.addData(dst, data, perm)
	}
	guestFile("/init", filepath.Join(guest, "init"), 0o755)
	guestFile("/diskvm/lib.sh", filepath.Join(guest, "lib.sh"), 0o644)
	boots, _ := filepath.Glob(filepath.Join(guest, "boot-*.sh"))
	for _, b := range boots {
		guestFile("/diskvm/"+filepath.Base(b), b, 0o755)
	}
	guestFile("/usr/local/bin/nixos-install", filepath.Join(guest, "bin", "nixos-install"), 0o755)
	guestFile("/usr/local/bin/systemctl", filepath.Join(guest, "bin", "systemctl"), 0o755)
	guestFile("/etc/lvm/lvm.conf", filepath.Join(guest, "etc", "lvm.conf"), 0o644)
	guestFile("/etc/passwd", filepath.Join(guest, "etc", "passwd"), 0o644)
	guestFile("/etc/group", filepath.Join(guest, "etc", "group"), 0o644)
	for _, s := range []string{"install.sh", "grow-root.sh"} {
		guestFile("/diskvm/scripts/"+s, filepath.Join(scriptsDir(t, root), s), 0o755)
	}
	// The node system's store path install.sh passes to nixos-install.
	tree.addData("/nix/store/00000000000000000000000000000000-nixos-system-diskvm/nixos-version", []byte("diskvm\n"), 0o644)
	tree.mkdirAll("/root")
	tree.mkdirAll("/var/tmp")

	f, err := os.Create(out)
	must(err)
	if err := tree.writeCPIO(f); err != nil {
		f.Close()
		t.Fatalf("write initramfs: %v", err)
	}
	must(f.Close())
}

// lookPathSbin is exec.LookPath that also searches /usr/sbin and /sbin,
// which are off the PATH of a non-root user.
func lookPathSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// scriptsDir is where the scripts under test come from: nixos/scripts of
// the work tree, or NIXLAB_DISKVM_SCRIPTS (a directory with install.sh and
// grow-root.sh, e.g. an older version, to see what the lane catches).
func scriptsDir(t *testing.T, root string) string {
	if dir := os.Getenv("NIXLAB_DISKVM_SCRIPTS"); dir != "" {
		t.Logf("scripts under test from %s (NIXLAB_DISKVM_SCRIPTS)", dir)
		return dir
	}
	return filepath.Join(root, "nixos", "scripts")
}
