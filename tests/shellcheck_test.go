package tests

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// TestEveryShellScriptPassesShellcheck runs shellcheck over every tracked
// shell script, including the CI entry point.
func TestEveryShellScriptPassesShellcheck(t *testing.T) {
	shellcheck := testutil.RequireTool(t, "shellcheck")
	root := testutil.RepoRoot(t)
	scripts, err := filepath.Glob(filepath.Join(root, "*", "scripts", "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	scripts = append(scripts, filepath.Join(root, ".ci", "run"))
	if len(scripts) < 6 {
		t.Fatalf("found only %v", scripts)
	}
	for _, s := range scripts {
		rel, _ := filepath.Rel(root, s)
		t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) {
			out, err := exec.Command(shellcheck, "--shell=bash", s).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck %s: %v\n%s", rel, err, out)
			}
		})
	}
}
