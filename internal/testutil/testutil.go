// Package testutil holds helpers shared by nixlab's tests: finding the
// external tools a test needs (and failing instead of skipping when CI
// demands them), and writing fake commands onto a PATH.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireTool returns the absolute path of the named executable. When the
// tool is missing the test is skipped, unless NIXLAB_REQUIRE_TOOLS=1 is set
// (CI sets it), in which case the test fails: a missing tool must not turn a
// CI run green.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("NIXLAB_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required (NIXLAB_REQUIRE_TOOLS=1) but not on PATH: %v", name, err)
	}
	t.Skipf("%s not on PATH; set NIXLAB_REQUIRE_TOOLS=1 to make this a failure", name)
	return ""
}

// WriteFake writes an executable bash script called name into dir. The body
// is the script after the shebang and `set -euo pipefail` line.
func WriteFake(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	content := "#!/usr/bin/env bash\nset -euo pipefail\n" + body
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatalf("write fake %s: %v", name, err)
	}
	return path
}

// RepoRoot returns the repository's top directory (the one holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testutil source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// PathWith returns a PATH value that puts dirs first, followed by the
// current PATH.
func PathWith(dirs ...string) string {
	return strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
}

// CPUTime is the process's user plus system CPU time so far, all threads:
// steadier than wall time on a shared machine, for benchmarks and the
// linearity check of the plan.
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
