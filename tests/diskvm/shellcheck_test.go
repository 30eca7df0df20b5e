package diskvm

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// TestGuestScriptsPassShellcheck keeps the guest's init, boot scripts and
// stand-ins shellcheck-clean (tests/shellcheck_test.go covers the
// project's */scripts/*.sh only).
func TestGuestScriptsPassShellcheck(t *testing.T) {
	shellcheck := testutil.RequireTool(t, "shellcheck")
	guest := filepath.Join(testutil.RepoRoot(t), "tests", "diskvm", "guest")
	scripts := []string{
		filepath.Join(guest, "init"),
		filepath.Join(guest, "lib.sh"),
		filepath.Join(guest, "bin", "nixos-install"),
		filepath.Join(guest, "bin", "systemctl"),
	}
	boots, err := filepath.Glob(filepath.Join(guest, "boot-*.sh"))
	if err != nil || len(boots) < 2 {
		t.Fatalf("boot scripts: %v %v", boots, err)
	}
	scripts = append(scripts, boots...)
	for _, s := range scripts {
		s := s
		t.Run(filepath.Base(s), func(t *testing.T) {
			cmd := exec.Command(shellcheck, "--shell=bash", "-x", filepath.Base(s))
			cmd.Dir = filepath.Dir(s) // source=lib.sh resolves here
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", s, err, out)
			}
		})
	}
}
