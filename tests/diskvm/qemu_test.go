package diskvm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmDisk is one raw image attached to the guest as a virtio-scsi disk at
// SCSI target scsiID (the guest finds it by that address, see lib.sh).
type vmDisk struct {
	name   string
	path   string
	scsiID int
}

// bootResult is what one boot reported.
type bootResult struct {
	facts   facts
	console string // the whole serial console (kernel, tools, scripts)
	elapsed time.Duration
}

// facts maps scenario -> key -> values in the order the guest reported
// them (a key may repeat, e.g. one "part" line per partition).
type facts map[string]map[string][]string

// get returns the single value of key, or "" with ok=false.
func (f facts) get(scenario, key string) (string, bool) {
	v := f[scenario][key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// parseResults reads the guest's "DISKVM|<seq>|<scenario>|<key>|<value>"
// lines (other lines are ignored) and fails when a sequence number is
// missing or out of order: a lost line must not pass for a missing fact.
func parseResults(data []byte) (facts, error) {
	out := facts{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	next := 1
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		parts := strings.SplitN(line, "|", 5)
		if len(parts) != 5 || parts[0] != "DISKVM" {
			continue
		}
		if seq, err := strconv.Atoi(parts[1]); err != nil || seq != next {
			return out, fmt.Errorf("results line %q: expected number %d (a line was lost or garbled)", line, next)
		}
		next++
		if out[parts[2]] == nil {
			out[parts[2]] = map[string][]string{}
		}
		out[parts[2]][parts[3]] = append(out[parts[2]][parts[3]], parts[4])
	}
	return out, sc.Err()
}

// bootVM boots the guest with the kernel, initramfs and disks under
// software emulation (KVM is not used: it hangs on these machines), one
// CPU (boots run two at a time), no network, and waits at most timeout for
// it to power off. Safe to call from several goroutines.
func bootVM(vt *vmTools, initrd, workDir, boot string, disks []vmDisk, timeout time.Duration) (*bootResult, error) {
	console := filepath.Join(workDir, boot+".console.log")
	results := filepath.Join(workDir, boot+".results.log")
	var names []string
	args := []string{
		"-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "1024",
		"-nodefaults", "-nographic", "-monitor", "none", "-no-reboot", "-nic", "none",
		"-kernel", vt.kernel, "-initrd", initrd,
		"-serial", "file:" + console, "-serial", "file:" + results,
		"-device", "virtio-scsi-pci,id=scsi0",
	}
	for _, d := range disks {
		names = append(names, fmt.Sprintf("%s:%d", d.name, d.scsiID))
		id := fmt.Sprintf("d%d", d.scsiID)
		args = append(args,
			// discard/detect-zeroes keep the images sparse (mkfs.ext4
			// discards, wipes write zeros); cache=unsafe skips fsyncs the
			// host never needs (the image files are read after qemu exits).
			"-drive", fmt.Sprintf("if=none,id=%s,file=%s,format=raw,cache=unsafe,discard=unmap,detect-zeroes=unmap", id, d.path),
			"-device", fmt.Sprintf("scsi-hd,bus=scsi0.0,channel=0,scsi-id=%d,lun=0,drive=%s,serial=%s", d.scsiID, id, d.name))
	}
	args = append(args, "-append", strings.Join([]string{
		"console=ttyS0", "panic=-1", "loglevel=4",
		"diskvm.boot=" + boot, "diskvm.disks=" + strings.Join(names, ","),
	}, " "))

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, vt.qemu, args...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := &bootResult{elapsed: time.Since(start)}
	con, _ := os.ReadFile(console)
	res.console = string(con)
	raw, _ := os.ReadFile(results)
	var perr error
	res.facts, perr = parseResults(raw)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("boot %s did not power off within %s", boot, timeout)
	case err != nil:
		return res, fmt.Errorf("qemu (boot %s): %v: %s", boot, err, stderr.String())
	case perr != nil:
		return res, fmt.Errorf("boot %s: %w", boot, perr)
	}
	if _, ok := res.facts.get("-", "boot-end"); !ok {
		return res, fmt.Errorf("boot %s ended without its end marker (kernel panic or init failure)", boot)
	}
	return res, nil
}

// consoleTail returns the last n lines of a console log.
func consoleTail(console string, n int) string {
	lines := strings.Split(strings.TrimRight(console, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestParseResultsKeepsOrderAndPipes(t *testing.T) {
	got, err := parseResults([]byte("noise\r\nDISKVM|1|a|part|1:1B:2B;\r\nDISKVM|2|a|part|2:x|y\nDISKVM|3|-|boot-end|check\nDISKVM|broken\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1:1B:2B;", "2:x|y"}; strings.Join(got["a"]["part"], "\n") != strings.Join(want, "\n") {
		t.Errorf("parts = %q, want %q", got["a"]["part"], want)
	}
	if v, ok := got.get("-", "boot-end"); !ok || v != "check" {
		t.Errorf("boot-end = %q, %v", v, ok)
	}
	if len(got) != 2 {
		t.Errorf("parsed scenarios %v, want a and -", got)
	}
}

func TestParseResultsNoticesALostLine(t *testing.T) {
	_, err := parseResults([]byte("DISKVM|1|a|x|1\nDISKVM|3|a|y|2\n"))
	if err == nil || !strings.Contains(err.Error(), "expected number 2") {
		t.Errorf("a gap in the sequence was not reported: %v", err)
	}
}
