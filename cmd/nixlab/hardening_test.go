package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// TestStackNameWithPathRefused: the stack name becomes the file name
// Pulumi.<stack>.yaml; a name with a path separator or ".." is refused with
// the flag named, before the engine is created or any file is read.
func TestStackNameWithPathRefused(t *testing.T) {
	names := []struct{ name, reason string }{
		{"../lab", "path separator"},
		{"sub/lab", "path separator"},
		{`sub\lab`, "path separator"},
		{"/etc/passwd", "path separator"},
		{"org/nixlab/lab", "path separator"},
		{"..", `must not contain ".."`},
		{"lab..old", `must not contain ".."`},
		{"lab prod", "may only contain"},
	}
	commands := [][]string{
		{"plan"}, {"preview"}, {"up"}, {"refresh"}, {"destroy", "--yes"},
		{"outputs"}, {"inventory"}, {"ssh-key"}, {"kubeconfig"},
	}
	// A project whose parent holds a stack file the traversal would reach.
	root := t.TempDir()
	dir := filepath.Join(root, "project")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		for _, cmd := range commands {
			t.Run(cmd[0]+" "+n.name, func(t *testing.T) {
				h := &harness{}
				args := append(append([]string{}, cmd...), "--dir", dir, "--stack", n.name)
				code, stdout, stderr := h.run(t, args...)
				if code != 2 {
					t.Fatalf("exit %d, want 2; stdout %q stderr:\n%s", code, stdout, stderr)
				}
				first, _, _ := strings.Cut(stderr, "\n")
				if !strings.HasPrefix(first, "nixlab "+cmd[0]+": --stack ") || !strings.Contains(first, n.reason) {
					t.Errorf("first line %q does not name --stack and %q", first, n.reason)
				}
				if h.enginesCreated != 0 {
					t.Error("an engine was created")
				}
			})
		}
	}
}

// TestOutputDirectoryRefused: -o naming a directory (or a path below a
// file) is refused with the flag named before any work: for plan, before
// the stack file is even looked at (a missing stack would otherwise fail
// with exit 1); for inventory and ssh-key, before the engine runs.
func TestOutputDirectoryRefused(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{tmp, "is a directory"},
		{tmp + "/", "names a directory"},
		{filepath.Join(tmp, "new") + "/", "names a directory"},
		{".", "is a directory"},
		{filepath.Join(file, "out.txt"), "is not a directory"},
		{filepath.Join(file, "a", "out.txt"), "is not a directory"},
	}
	for _, cmd := range []string{"plan", "inventory", "ssh-key", "kubeconfig"} {
		for _, c := range cases {
			for _, flagName := range []string{"-o", "--output"} {
				t.Run(cmd+" "+flagName+" "+c.path, func(t *testing.T) {
					h := &harness{}
					code, _, stderr := h.run(t, cmd, "--dir", tmp, "--stack", "missing", flagName, c.path)
					if code != 2 {
						t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
					}
					first, _, _ := strings.Cut(stderr, "\n")
					if !strings.HasPrefix(first, "nixlab "+cmd+": -o/--output ") || !strings.Contains(first, c.want) {
						t.Errorf("first line %q does not name -o/--output and %q", first, c.want)
					}
					if h.enginesCreated != 0 {
						t.Error("the engine ran before the output path was checked")
					}
				})
			}
		}
	}
}

// TestPlanAgainst: --against compares with an earlier JSON plan; a missing
// or foreign file is refused naming the flag, before planning.
func TestPlanAgainst(t *testing.T) {
	root := testutil.RepoRoot(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	h := &harness{noPulumi: true}
	old := filepath.Join(t.TempDir(), "before.json")
	if code, _, stderr := h.run(t, "plan", "--dir", root, "--format", "json", "-o", old); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	code, stdout, stderr := h.run(t, "plan", "--dir", root, "--against", old)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "Reboots (compared with "+old+")\n  no node reboots\n") {
		t.Errorf("no comparison in:\n%s", stdout)
	}
	code, stdout, _ = h.run(t, "plan", "--dir", root, "--against", old, "--format", "json")
	if code != 0 || !strings.Contains(stdout, `"comparison": {`) {
		t.Errorf("exit %d, JSON without the comparison:\n%s", code, stdout)
	}

	textPlan := filepath.Join(t.TempDir(), "before.txt")
	if code, _, stderr := h.run(t, "plan", "--dir", root, "-o", textPlan); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	notPlan := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(notPlan, []byte(`{"hello": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(t.TempDir(), "none.json"), "no such file"},
		{notPlan, "not a JSON plan"},
		{textPlan, "is a text plan, not JSON; write it with `nixlab plan --format json"},
	} {
		code, _, stderr := h.run(t, "plan", "--dir", root, "--against", c.path)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != 2 || !strings.HasPrefix(first, "nixlab plan: --against ") || !strings.Contains(first, c.want) {
			t.Errorf("--against %s: exit %d, first line %q", c.path, code, first)
		}
	}
}

// TestPlanInterruptedContext: a plan whose context ends (the first Ctrl-C
// cancels it, see main) stops and exits 130.
func TestPlanInterruptedContext(t *testing.T) {
	root := testutil.RepoRoot(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h := &harness{noPulumi: true}
	code, stdout, stderr := h.runCtx(t, ctx, "plan", "--dir", root)
	if code != 130 || stderr != "nixlab plan: plan interrupted\n" || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// The child half of TestPlanInterruptedBySignal: nixlab's own main with the
// arguments in NIXLAB_TEST_MAIN_ARGS.
func init() {
	if args, ok := os.LookupEnv("NIXLAB_TEST_MAIN_ARGS"); ok {
		os.Args = append([]string{"nixlab"}, strings.Split(args, "\x1f")...)
		main()
	}
}

// TestPlanInterruptedBySignal runs `nixlab plan` (main, in a child process)
// on a 100-node stack and sends it one SIGINT once its engine is up: the
// plan must stop and exit 130 within seconds, having removed its engine
// directory.
func TestPlanInterruptedBySignal(t *testing.T) {
	dir := labProjectWith(t, "big", "count: 2", "count: 99")
	tmp := t.TempDir() // the child's TMPDIR: its engine directory appears here
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "SSH_AUTH_SOCK=",
		"NIXLAB_TEST_MAIN_ARGS="+strings.Join([]string{"plan", "--dir", dir, "--stack", "big"}, "\x1f"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait (bounded) until the plan's engine runs, then interrupt once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(tmp, "nixlab-plan-*")); len(m) > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("nixlab exited before its engine ran (%v):\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the plan's engine did not start within 30s:\n%s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 {
			t.Fatalf("exit %v, want code 130 (a plan that ignored the interrupt finishes with 0); stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("nixlab plan did not stop within 20s of one SIGINT; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "nixlab plan: plan interrupted\n") || strings.Contains(stderr.String(), "context canceled") || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr:\n%s", stdout.String(), stderr.String())
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, "nixlab-plan-*")); len(m) > 0 {
		t.Errorf("engine directory left behind: %v", m)
	}
}

// TestFlagsCheckedBeforePulumi: a usage error is reported (exit 2) even
// without the Pulumi CLI, before any engine work.
func TestFlagsCheckedBeforePulumi(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"inventory", "--format", "xml"}, `--format "xml": want ini, yaml or kubespray`},
		{[]string{"inventory", "-o", dir + "/"}, "names a directory"},
		{[]string{"ssh-key", "-o", dir}, "is a directory"},
		{[]string{"outputs", "--dir", "/nonexistent-nixlab"}, "does not exist"},
		{[]string{"destroy", "--dir", "/nonexistent-nixlab"}, "does not exist"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := &harness{noPulumi: true}
			code, _, stderr := h.run(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "Pulumi CLI is not installed") {
				t.Errorf("exit %d, want 2 and %q; stderr:\n%s", code, tt.want, stderr)
			}
			if h.enginesCreated != 0 {
				t.Errorf("%d engines created", h.enginesCreated)
			}
		})
	}
}

// TestPlanFormatFromExtension: without --format, -o picks the format from
// the file's extension; --format wins when given.
func TestPlanFormatFromExtension(t *testing.T) {
	root := testutil.RepoRoot(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	for _, tt := range []struct {
		file   string
		args   []string
		prefix string
	}{
		{"before.json", nil, "{"},
		{"graph.mmd", nil, "flowchart"},
		{"graph.dot", nil, "digraph"},
		{"plan.txt", nil, "Plan"},
		{"forced.json", []string{"--format", "text"}, "Plan"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), tt.file)
			h := &harness{noPulumi: true}
			args := append([]string{"plan", "--dir", root, "-o", out}, tt.args...)
			if code, _, stderr := h.run(t, args...); code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(strings.TrimSpace(string(got)), tt.prefix) {
				t.Errorf("%s starts %.40q, want %q", tt.file, got, tt.prefix)
			}
		})
	}
}
