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

// growFakes: growpart behaves per $FAKE_GROWPART (change|nochange|fail), vgs
// reports $FAKE_VG_FREE free extents, $FAKE_FAIL names a command that fails.
var growFakes = map[string]string{
	"growpart": `case "${FAKE_GROWPART:-change}" in
  change) echo "CHANGED: partition=$2 start=2048 old: size=41940992 end=41943040 new: size=83883999 end=83886047" ;;
  nochange) echo "NOCHANGE: partition $2 is size 41940992. it cannot be grown"; exit 1 ;;
  *) echo "FAILED: $1: does not exist" >&2; exit 2 ;;
esac`,
	"pvresize":  "",
	"vgs":       `echo "  ${FAKE_VG_FREE:-0}"`,
	"lvextend":  "",
	"resize2fs": "",
}

type growRun struct {
	exitCode int
	stderr   string
	calls    []string // "name arg1 arg2 ..."
}

func runGrowRoot(t *testing.T, env map[string]string) *growRun {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	dir := t.TempDir()
	logFile := filepath.Join(dir, "calls.log")
	for name, body := range growFakes {
		fail := `if [ "${FAKE_FAIL:-}" = "` + name + `" ]; then echo "` + name + `: simulated failure" >&2; exit 5; fi
`
		testutil.WriteFake(t, dir, name, `echo "`+name+` $*" >> "$FAKE_LOG"
`+fail+body)
	}
	cmd := exec.Command(bash, filepath.Join(testutil.RepoRoot(t), "nixos", "scripts", "grow-root.sh"))
	cmd.Env = append(os.Environ(),
		"PATH="+testutil.PathWith(dir),
		"FAKE_LOG="+logFile,
		"NIXLAB_DISK=/dev/sda",
		"NIXLAB_PART=1",
		"NIXLAB_VG=nixos-vg",
		"NIXLAB_LV=root",
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	r := &growRun{}
	if err := cmd.Run(); err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run grow-root.sh: %v", err)
		}
		r.exitCode = exitErr.ExitCode()
	}
	r.stderr = stderr.String()
	if b, err := os.ReadFile(logFile); err == nil {
		r.calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return r
}

func TestGrowRoot(t *testing.T) {
	grown := []string{
		"growpart /dev/sda 1",
		"pvresize /dev/sda1",
		"vgs --noheadings -o vg_free_count nixos-vg",
		"lvextend -l +100%FREE nixos-vg/root",
		"resize2fs /dev/nixos-vg/root",
	}
	tests := []struct {
		name      string
		env       map[string]string
		wantCalls []string
		wantExit  int
		wantLogs  []string
	}{
		{
			name:      "disk grew",
			env:       map[string]string{"FAKE_GROWPART": "change", "FAKE_VG_FREE": "5120"},
			wantCalls: grown,
			wantLogs:  []string{"grew partition 1 of /dev/sda", "extending nixos-vg/root by 5120 free extents", "done"},
		},
		{
			// The usual boot: pvresize and resize2fs still run (both
			// idempotent), no lvextend.
			name: "nothing to do",
			env:  map[string]string{"FAKE_GROWPART": "nochange", "FAKE_VG_FREE": "0"},
			wantCalls: []string{
				"growpart /dev/sda 1",
				"pvresize /dev/sda1",
				"vgs --noheadings -o vg_free_count nixos-vg",
				"resize2fs /dev/nixos-vg/root",
			},
			wantLogs: []string{"already fills the disk", "no free extents", "done"},
		},
		{
			// A boot interrupted after pvresize: the PV already has the new
			// extents, growpart has nothing left to do.
			name:      "NOCHANGE but free extents left by an interrupted boot",
			env:       map[string]string{"FAKE_GROWPART": "nochange", "FAKE_VG_FREE": "42"},
			wantCalls: grown,
			wantLogs:  []string{"already fills the disk", "extending nixos-vg/root by 42 free extents", "done"},
		},
		{
			name: "partition grew but no free extents appeared",
			env:  map[string]string{"FAKE_GROWPART": "change", "FAKE_VG_FREE": "0"},
			wantCalls: []string{
				"growpart /dev/sda 1",
				"pvresize /dev/sda1",
				"vgs --noheadings -o vg_free_count nixos-vg",
				"resize2fs /dev/nixos-vg/root",
			},
			wantLogs: []string{"no free extents"},
		},
		{
			name:      "growpart fails",
			env:       map[string]string{"FAKE_GROWPART": "fail"},
			wantCalls: []string{"growpart /dev/sda 1"},
			wantExit:  1,
			wantLogs:  []string{"growpart /dev/sda 1 failed (exit 2)", "does not exist"},
		},
		{
			name:      "pvresize fails after growth",
			env:       map[string]string{"FAKE_GROWPART": "change", "FAKE_FAIL": "pvresize"},
			wantCalls: []string{"growpart /dev/sda 1", "pvresize /dev/sda1"},
			wantExit:  1,
			wantLogs:  []string{"pvresize /dev/sda1 failed"},
		},
		{
			name:      "pvresize fails after NOCHANGE",
			env:       map[string]string{"FAKE_GROWPART": "nochange", "FAKE_FAIL": "pvresize"},
			wantCalls: []string{"growpart /dev/sda 1", "pvresize /dev/sda1"},
			wantExit:  1,
			wantLogs:  []string{"pvresize /dev/sda1 failed"},
		},
		{
			name:      "vgs fails",
			env:       map[string]string{"FAKE_GROWPART": "nochange", "FAKE_FAIL": "vgs"},
			wantCalls: []string{"growpart /dev/sda 1", "pvresize /dev/sda1", "vgs --noheadings -o vg_free_count nixos-vg"},
			wantExit:  1,
			wantLogs:  []string{"vgs nixos-vg failed"},
		},
		{
			name:      "vgs prints garbage",
			env:       map[string]string{"FAKE_GROWPART": "nochange", "FAKE_VG_FREE": "lots"},
			wantCalls: []string{"growpart /dev/sda 1", "pvresize /dev/sda1", "vgs --noheadings -o vg_free_count nixos-vg"},
			wantExit:  1,
			wantLogs:  []string{"unexpected free extent count: 'lots'"},
		},
		{
			name:      "lvextend fails",
			env:       map[string]string{"FAKE_GROWPART": "change", "FAKE_VG_FREE": "10", "FAKE_FAIL": "lvextend"},
			wantCalls: grown[:4],
			wantExit:  1,
			wantLogs:  []string{"lvextend nixos-vg/root failed"},
		},
		{
			name:      "resize2fs fails",
			env:       map[string]string{"FAKE_GROWPART": "nochange", "FAKE_VG_FREE": "10", "FAKE_FAIL": "resize2fs"},
			wantCalls: grown,
			wantExit:  1,
			wantLogs:  []string{"resize2fs /dev/nixos-vg/root failed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runGrowRoot(t, tc.env)
			if r.exitCode != tc.wantExit {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.exitCode, tc.wantExit, r.stderr)
			}
			if !reflect.DeepEqual(r.calls, tc.wantCalls) {
				t.Errorf("calls\n got: %q\nwant: %q", r.calls, tc.wantCalls)
			}
			for _, want := range tc.wantLogs {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("log lacks %q:\n%s", want, r.stderr)
				}
			}
			if tc.wantExit != 0 && !strings.Contains(r.stderr, "nixlab-grow-root: ERROR: ") {
				t.Errorf("failure not reported as an ERROR line:\n%s", r.stderr)
			}
			if tc.wantExit == 0 && strings.Contains(r.stderr, "ERROR") {
				t.Errorf("success run logged an ERROR:\n%s", r.stderr)
			}
		})
	}
}

func TestGrowRootNvmePartitionName(t *testing.T) {
	r := runGrowRoot(t, map[string]string{"NIXLAB_DISK": "/dev/nvme0n1", "FAKE_GROWPART": "change", "FAKE_VG_FREE": "0"})
	if r.exitCode != 0 {
		t.Fatalf("exit %d:\n%s", r.exitCode, r.stderr)
	}
	if len(r.calls) < 2 || r.calls[1] != "pvresize /dev/nvme0n1p1" {
		t.Errorf("calls %q, want pvresize /dev/nvme0n1p1", r.calls)
	}
}
