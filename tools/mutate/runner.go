package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target says which Go tests exercise a script: the package holding them
// and a -test.run pattern. Shellcheck tests are skipped: a mutant that only
// upsets the linter is not caught by behaviour.
type target struct {
	pkg, run string
}

// targets maps the scripts whose tests do not follow the naming rule of
// targetFor to their tests.
var targets = map[string]target{
	"nixos/scripts/install.sh":   {"tests", "^TestInstaller"},
	"nixos/scripts/grow-root.sh": {"tests", "^TestGrowRoot"},
	// The helpers every kube-*.sh sources: the tests of all of them.
	"components/scripts/kube-common.sh": {"components", "^TestScriptKube"},
}

// targetFor returns the tests of a script: the entry in targets, or for
// components/scripts/<a-b>.sh the components tests named TestScript<AB>_
// (each part capitalised, "iso" as ISO), e.g. upload-iso.sh ->
// ^TestScriptUploadISO_.
func targetFor(script string) (target, bool) {
	if t, ok := targets[script]; ok {
		return t, true
	}
	dir, file := path.Split(script)
	if dir != "components/scripts/" || !strings.HasSuffix(file, ".sh") {
		return target{}, false
	}
	var name strings.Builder
	for _, part := range strings.Split(strings.TrimSuffix(file, ".sh"), "-") {
		if part == "iso" {
			name.WriteString("ISO")
		} else if part != "" {
			name.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return target{"components", "^TestScript" + name.String() + "_"}, true
}

const skipTests = "Shellcheck"

// maxCopySize is the largest file copied into the workspace.
const maxCopySize = 8 << 20

// outcome of one mutant.
type outcome string

const (
	killed   outcome = "KILLED"
	survived outcome = "SURVIVED"
	timedOut outcome = "TIMED OUT" // counts as survived
)

// workspace is a private copy of the repository with the test binaries
// built once; mutants are written into the copy, never into the checkout.
type workspace struct {
	root  string            // the copy
	bins  map[string]string // package -> test binary
	log   io.Writer
	limit time.Duration // per mutant
}

// listFiles returns the repository's files: tracked and untracked ones that
// are not ignored (read-only git calls).
func listFiles(repo string) ([]string, error) {
	cmd := exec.Command("git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w", repo, err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// newWorkspace copies repo into a temporary directory and builds the test
// binaries of pkgs there.
func newWorkspace(repo string, pkgs []string, log io.Writer) (*workspace, error) {
	files, err := listFiles(repo)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "nixlab-mutate-")
	if err != nil {
		return nil, err
	}
	w := &workspace{root: root, bins: map[string]string{}, log: log}
	for _, f := range files {
		src := filepath.Join(repo, f)
		st, err := os.Lstat(src)
		if err != nil {
			if os.IsNotExist(err) { // deleted but still in the index
				continue
			}
			return nil, err
		}
		// Build outputs lying around (an untracked nixlab binary) are not
		// needed to run tests.
		if !st.Mode().IsRegular() || st.Size() > maxCopySize {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
			return nil, err
		}
	}
	for _, pkg := range pkgs {
		bin := filepath.Join(root, ".mutate-bin", pkg+".test")
		cmd := exec.Command("go", "test", "-c", "-o", bin, "./"+pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the %s tests: %w\n%s", pkg, err, out)
		}
		w.bins[pkg] = bin
	}
	return w, nil
}

func (w *workspace) close() { _ = os.RemoveAll(w.root) }

// runTests runs the tests of t in the workspace; it reports whether they
// passed, and whether they hit the limit.
func (w *workspace) runTests(t target, limit time.Duration) (passed, timedOut bool, output string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// Each run gets its own TMPDIR inside the workspace, removed afterwards:
	// a mutant may leave (or, killed at the limit, fail to clean up) large
	// temporary files.
	tmp, err := os.MkdirTemp(w.root, ".tmp-")
	if err != nil {
		return false, false, "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, w.bins[t.pkg], "-test.run", t.run, "-test.skip", skipTests, "-test.count", "1", "-test.failfast")
	cmd.Dir = filepath.Join(w.root, t.pkg)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	runErr := cmd.Run()
	w.killStrays()
	if ctx.Err() != nil {
		return false, true, out.String(), nil
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return false, false, out.String(), runErr
	}
	return runErr == nil, false, out.String(), nil
}

// baseline runs the unmutated tests of every target once: they must pass,
// or a kill would mean nothing. It sets the per-mutant limit to three times
// the slowest baseline plus 240 s: well beyond the script tests' own
// deadline for a run that never ends (45 s per run, components/
// scripts_build_test.go; parallel tests may each wait for it), so a mutant
// that hangs a script is killed by the tests, not timed out here.
func (w *workspace) baseline(scripts []string) error {
	var slowest time.Duration
	seen := map[target]bool{}
	for _, s := range scripts {
		t, _ := targetFor(s)
		if seen[t] {
			continue
		}
		seen[t] = true
		start := time.Now()
		passed, _, out, err := w.runTests(t, 15*time.Minute)
		if err != nil {
			return err
		}
		if !passed {
			return fmt.Errorf("the unmutated tests of %s fail (%s -run %s):\n%s", s, t.pkg, t.run, tail(out, 40))
		}
		took := time.Since(start)
		fmt.Fprintf(w.log, "baseline %s -run %s: %v\n", t.pkg, t.run, took.Round(time.Millisecond))
		if took > slowest {
			slowest = took
		}
	}
	w.limit = 3*slowest + 240*time.Second
	return nil
}

// try writes the mutant into the workspace, runs its tests and restores
// the script.
func (w *workspace) try(m mutant) (outcome, error) {
	path := filepath.Join(w.root, m.Script)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(m.Text), st.Mode().Perm()); err != nil {
		return "", err
	}
	defer func() { _ = os.WriteFile(path, orig, st.Mode().Perm()) }()
	t, _ := targetFor(m.Script)
	passed, timed, _, err := w.runTests(t, w.limit)
	switch {
	case err != nil:
		return "", err
	case timed:
		return timedOut, nil
	case passed:
		return survived, nil
	default:
		return killed, nil
	}
}

// bashSyntaxOK reports whether bash -n accepts the text.
func bashSyntaxOK(text string) bool {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(text)
	return cmd.Run() == nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// killStrays kills what is left of a test run: processes whose command line
// names a file in this workspace (a mutated script in an endless loop that
// its killed test binary left behind in its own process group).
func (w *workspace) killStrays() {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(w.root+"/")) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
