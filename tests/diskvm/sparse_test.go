package diskvm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// chunkSize is the unit in which data extents are read, hashed and copied.
const chunkSize = 1 << 20

// lseek whence values for sparse files (linux/fs.h; Linux >= 3.1), which
// the syscall package does not name.
const (
	seekData = 3
	seekHole = 4
)

// dataExtents calls fn for every [start, end) byte range of f that the
// filesystem reports as data (lseek SEEK_DATA/SEEK_HOLE); holes read as
// zeros and are skipped. A filesystem without hole support reports the whole
// file as one data extent, which is still correct, only slower.
func dataExtents(f *os.File, size int64, fn func(start, end int64) error) error {
	fd := int(f.Fd())
	var off int64
	for off < size {
		start, err := syscall.Seek(fd, off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return nil // only a hole is left
		}
		if err != nil {
			return fmt.Errorf("SEEK_DATA at %d in %s: %w", off, f.Name(), err)
		}
		end, err := syscall.Seek(fd, start, seekHole)
		if err != nil {
			return fmt.Errorf("SEEK_HOLE at %d in %s: %w", start, f.Name(), err)
		}
		if end > size {
			end = size
		}
		if err := fn(start, end); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// forEachNonZeroChunk calls fn with every chunk of the file (aligned to
// chunkSize) that holds a non-zero byte, and its offset. Holes and
// all-zero chunks are skipped, so a file where zeros were written reads the
// same as one where they are a hole.
func forEachNonZeroChunk(path string, fn func(off int64, data []byte) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, chunkSize)
	zero := make([]byte, chunkSize)
	err = dataExtents(f, size, func(start, end int64) error {
		for off := start - start%chunkSize; off < end; off += chunkSize {
			n := int64(chunkSize)
			if off+n > size {
				n = size - off
			}
			if _, err := f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read %s at %d: %w", path, off, err)
			}
			if bytes.Equal(buf[:n], zero[:n]) {
				continue
			}
			if err := fn(off, buf[:n]); err != nil {
				return err
			}
		}
		return nil
	})
	return size, err
}

// sparseHash returns a SHA-256 over a disk image's logical content: its
// size and every non-zero chunk with its offset. Two images hash equal
// exactly when they are byte-identical (up to SHA-256 collisions), whether
// their zeros are holes or written blocks, and hashing a 20 GiB image that
// holds 300 MiB of data reads only those 300 MiB. A chunk straddling two
// extents may be read twice; it is hashed once (offsets only increase).
func sparseHash(path string) (string, error) {
	h := sha256.New()
	last := int64(-1)
	size, err := forEachNonZeroChunk(path, func(off int64, data []byte) error {
		if off <= last {
			return nil
		}
		last = off
		var hdr [16]byte
		binary.BigEndian.PutUint64(hdr[:8], uint64(off))
		binary.BigEndian.PutUint64(hdr[8:], uint64(len(data)))
		h.Write(hdr[:])
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	var sz [8]byte
	binary.BigEndian.PutUint64(sz[:], uint64(size))
	h.Write(sz[:])
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sparseCopy copies src to dst (created or truncated) with the size
// newSize (at least src's size), writing only src's non-zero chunks: a
// clone of an installed 20 GiB disk costs its data, not 20 GiB. A larger
// newSize is how a clone's disk is grown (Proxmox resizes by extending the
// image at its end).
func sparseCopy(src, dst string, newSize int64) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if newSize < st.Size() {
		return fmt.Errorf("copy %s: new size %d is below the source size %d", src, newSize, st.Size())
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := forEachNonZeroChunk(src, func(off int64, data []byte) error {
		_, err := out.WriteAt(data, off)
		return err
	}); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Truncate(newSize); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// newSparseImage creates an all-zero image of size bytes that occupies no
// blocks.
func newSparseImage(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("size %s: %w", path, err)
	}
	return f.Close()
}

func TestSparseHashSeesEveryByteAndIgnoresHoleLayout(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 20
	write := func(name string, at int64, data []byte, zeros bool) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := newSparseImage(p, size); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if zeros { // written zeros, not a hole
			if _, err := f.WriteAt(make([]byte, 8<<20), 20<<20); err != nil {
				t.Fatal(err)
			}
		}
		if data != nil {
			if _, err := f.WriteAt(data, at); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	hash := func(p string) string {
		t.Helper()
		h, err := sparseHash(p)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	blank := hash(write("blank", 0, nil, false))
	if got := hash(write("zeros", 0, nil, true)); got != blank {
		t.Errorf("written zeros hash %s, holes %s: zeros must read as holes", got, blank)
	}
	one := hash(write("one", 33<<20+7, []byte{1}, false))
	if one == blank {
		t.Error("a single non-zero byte past the first MiB did not change the hash")
	}
	if got := hash(write("one-moved", 33<<20+8, []byte{1}, true)); got == one {
		t.Error("the same byte at another offset hashed equal")
	}
	if got := hash(write("one-again", 33<<20+7, []byte{1}, true)); got != one {
		t.Error("identical content with other hole layout hashed differently")
	}
	last := hash(write("last", size-1, []byte{9}, false))
	if last == blank {
		t.Error("the last byte of the image is not hashed")
	}
	bigger := filepath.Join(dir, "bigger")
	if err := newSparseImage(bigger, size+512); err != nil {
		t.Fatal(err)
	}
	if hash(bigger) == blank {
		t.Error("images of different sizes hashed equal")
	}
}

func TestSparseCopyKeepsContentAndGrows(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := newSparseImage(src, 16<<20); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("LABELONE"), 1<<20+512); err != nil {
		t.Fatal(err)
	}
	f.Close()
	same := filepath.Join(dir, "same")
	if err := sparseCopy(src, same, 16<<20); err != nil {
		t.Fatal(err)
	}
	hs, _ := sparseHash(src)
	hc, _ := sparseHash(same)
	if hs != hc {
		t.Error("a same-size copy is not identical to its source")
	}
	grown := filepath.Join(dir, "grown")
	if err := sparseCopy(src, grown, 40<<20); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(grown)
	if st.Size() != 40<<20 {
		t.Errorf("grown copy has %d bytes, want %d", st.Size(), 40<<20)
	}
	data, _ := os.ReadFile(grown)
	if !bytes.Equal(data[1<<20+512:1<<20+520], []byte("LABELONE")) {
		t.Error("grown copy lost the source's data")
	}
	if err := sparseCopy(src, filepath.Join(dir, "small"), 1<<20); err == nil {
		t.Error("copying to a smaller size did not fail")
	}
}
