package diskvm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// fsEntry is one file system object of the initramfs.
type fsEntry struct {
	mode   uint32 // S_IF* type bits and permissions
	src    string // host file to copy (regular files), or ""
	data   []byte // content when src is ""
	target string // symlink target
}

const (
	sIFMT   = 0o170000
	sIFDIR  = 0o040000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	maxLink = 40 // symlink hops before a host path is declared a loop
)

// fsTree is the initramfs being assembled: absolute paths to entries.
// Parent directories are created on demand.
type fsTree struct {
	entries map[string]*fsEntry
	ldd     string // path of ldd, to add the shared libraries of ELF files
}

func newFSTree(ldd string) *fsTree {
	return &fsTree{entries: map[string]*fsEntry{"/": {mode: sIFDIR | 0o755}}, ldd: ldd}
}

func (t *fsTree) mkdirAll(p string) {
	p = path.Dir(t.resolveDir(path.Join(p, "x")))
	for p != "/" {
		if _, ok := t.entries[p]; ok {
			return
		}
		t.entries[p] = &fsEntry{mode: sIFDIR | 0o755}
		p = path.Dir(p)
	}
}

func (t *fsTree) put(p string, e *fsEntry) {
	p = t.resolveDir(path.Clean(p))
	t.mkdirAll(path.Dir(p))
	t.entries[p] = e
}

// resolveDir rewrites p so that none of its parent directories is a
// symlink of the tree (/lib/modules/x -> /usr/lib/modules/x when /lib ->
// usr/lib): the kernel does not follow symlinks while unpacking.
func (t *fsTree) resolveDir(p string) string {
	for hops := 0; hops < maxLink; hops++ {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur, changed := "/", false
		for i, part := range parts[:len(parts)-1] {
			cur = path.Join(cur, part)
			e, ok := t.entries[cur]
			if !ok || e.mode&sIFMT != sIFLNK {
				continue
			}
			target := e.target
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(cur), target)
			}
			p = path.Join(append([]string{target}, parts[i+1:]...)...)
			changed = true
			break
		}
		if !changed {
			return p
		}
	}
	return p
}

// addData adds a file with the given content and permissions.
func (t *fsTree) addData(p string, data []byte, perm uint32) {
	t.put(p, &fsEntry{mode: sIFREG | perm, data: data})
}

// addSymlink adds a symbolic link p -> target.
func (t *fsTree) addSymlink(p, target string) {
	t.put(p, &fsEntry{mode: sIFLNK | 0o777, target: target})
}

// addHostFile adds the host file src at the guest path dst (no symlink
// resolution), with src's permissions; an executable ELF file brings the
// shared libraries it needs (ldd lists the whole closure, so libraries
// themselves are not asked again).
func (t *fsTree) addHostFile(dst, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if e, ok := t.entries[path.Clean(dst)]; ok && e.src == src {
		return nil // already there, libraries included
	}
	t.put(dst, &fsEntry{mode: sIFREG | uint32(st.Mode().Perm()), src: src})
	if st.Mode().Perm()&0o111 == 0 || strings.Contains(path.Base(src), ".so") {
		return nil
	}
	return t.addLibraries(src)
}

// addHostPath adds the host path p at the same place in the guest, walking
// it component by component: every symlink on the way is recreated as a
// symlink (so /sbin/pvcreate -> lvm and the merged /usr layout stay as on
// the host), directories become directories, and the final regular file is
// copied along with the shared libraries ldd lists for it.
func (t *fsTree) addHostPath(p string) error {
	orig := p
	for hops := 0; hops < maxLink; hops++ {
		resolved, next, err := t.walkOnce(path.Clean(p))
		if err != nil {
			return fmt.Errorf("add %s: %w", orig, err)
		}
		if resolved {
			return nil
		}
		p = next
	}
	return fmt.Errorf("add %s: more than %d symlinks", orig, maxLink)
}

// walkOnce follows p up to its first symlink, which it records; it returns
// resolved=true once p ends in a regular file or directory, else the path
// to continue with.
func (t *fsTree) walkOnce(p string) (resolved bool, next string, err error) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, part := range parts {
		cur = path.Join(cur, part)
		st, err := os.Lstat(cur)
		if err != nil {
			return false, "", err
		}
		rest := strings.Join(parts[i+1:], "/")
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(cur)
			if err != nil {
				return false, "", err
			}
			t.addSymlink(cur, target)
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(cur), target)
			}
			return false, path.Join(target, rest), nil
		case st.IsDir():
			t.mkdirAll(cur)
		case st.Mode().IsRegular() && rest == "":
			return true, "", t.addHostFile(cur, cur)
		default:
			return false, "", fmt.Errorf("%s is neither a directory, a regular file nor a symlink", cur)
		}
	}
	return true, "", nil
}

// addHostTree adds every regular file and symlink below the host directory
// dir, except names for which skip returns true.
func (t *fsTree) addHostTree(dir string, skip func(name string) bool) error {
	return filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if skip != nil && p != dir && skip(filepath.Base(p)) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if info.IsDir() {
			return nil
		}
		return t.addHostPath(p)
	})
}

// addLibraries adds what `ldd file` lists for an ELF file (the whole
// closure, dynamic loader included); other files are left alone.
func (t *fsTree) addLibraries(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	f.Close()
	if err != nil || !bytes.Equal(magic, []byte("\x7fELF")) {
		return nil // scripts and data
	}
	out, err := exec.Command(t.ldd, file).Output()
	if err != nil {
		// "not a dynamic executable": static (busybox-static).
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		var lib string
		switch {
		case len(fields) >= 3 && fields[1] == "=>" && path.IsAbs(fields[2]):
			lib = fields[2]
		case len(fields) >= 1 && path.IsAbs(fields[0]):
			lib = fields[0]
		default:
			continue // linux-vdso.so.1
		}
		if _, ok := t.entries[path.Clean(lib)]; ok {
			continue
		}
		if err := t.addHostPath(lib); err != nil {
			return fmt.Errorf("library of %s: %w", file, err)
		}
	}
	return sc.Err()
}

// writeCPIO writes the tree as an uncompressed "newc" cpio archive, the
// format the kernel unpacks into its initial root file system
// (Documentation/driver-api/early-userspace/buffer-format.rst). Entries are
// sorted, so every directory precedes its contents.
func (t *fsTree) writeCPIO(w io.Writer) error {
	names := make([]string, 0, len(t.entries))
	for p := range t.entries {
		names = append(names, p)
	}
	sort.Strings(names)
	bw := bufio.NewWriterSize(w, 1<<20)
	ino := uint32(1)
	for _, p := range names {
		e := t.entries[p]
		data := e.data
		switch {
		case e.mode&sIFMT == sIFLNK:
			data = []byte(e.target)
		case e.src != "":
			var err error
			if data, err = os.ReadFile(e.src); err != nil {
				return err
			}
		}
		name := "."
		if p != "/" {
			name = strings.TrimPrefix(p, "/")
		}
		if err := writeCPIOEntry(bw, ino, e.mode, name, data); err != nil {
			return err
		}
		ino++
	}
	if err := writeCPIOEntry(bw, ino, 0, "TRAILER!!!", nil); err != nil {
		return err
	}
	return bw.Flush()
}

func writeCPIOEntry(w io.Writer, ino, mode uint32, name string, data []byte) error {
	nlink := 1
	if mode&sIFMT == sIFDIR {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	buf = append(buf, data...)
	buf = append(buf, make([]byte, pad4(len(data)))...)
	_, err := w.Write(buf)
	return err
}

func pad4(n int) int { return (4 - n%4) % 4 }

func TestCPIOArchiveUnpacksWithGNUCpio(t *testing.T) {
	cpio := testutil.RequireTool(t, "cpio")
	tree := newFSTree("ldd")
	tree.addData("/init", []byte("#!/bin/sh\necho hi\n"), 0o755)
	tree.addData("/etc/a/b.conf", []byte("x"), 0o644)
	tree.addSymlink("/bin", "usr/bin")
	var buf bytes.Buffer
	if err := tree.writeCPIO(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-i", "--make-directories", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etc/a/b.conf")); err != nil || string(b) != "x" {
		t.Errorf("etc/a/b.conf = %q, %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "init")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("init: %v %v", st, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin")); err != nil || l != "usr/bin" {
		t.Errorf("bin -> %q, %v", l, err)
	}
}

func TestFSTreePlacesFilesBehindSymlinkedDirectories(t *testing.T) {
	tree := newFSTree("ldd")
	tree.addSymlink("/lib", "usr/lib")
	tree.addData("/lib/modules/6.1/kernel/x.ko", []byte("ko"), 0o644)
	if _, ok := tree.entries["/usr/lib/modules/6.1/kernel/x.ko"]; !ok {
		t.Errorf("file not placed under the symlink's target: %v", keys(tree.entries))
	}
	if e := tree.entries["/lib"]; e == nil || e.mode&sIFMT != sIFLNK {
		t.Errorf("/lib is no longer a symlink: %+v", e)
	}
}

func keys(m map[string]*fsEntry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
