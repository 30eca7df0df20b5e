package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

func TestPlanWithoutPulumiCLI(t *testing.T) {
	root := testutil.RepoRoot(t)
	for _, format := range []string{"", "text", "json", "mermaid", "dot"} {
		t.Run("format="+format, func(t *testing.T) {
			args := []string{"plan", "--dir", root, "--stack", "lab"}
			if format != "" {
				args = append(args, "--format", format)
			}
			h := &harness{noPulumi: true}
			code, stdout, stderr := h.run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if strings.TrimSpace(stdout) == "" {
				t.Fatal("empty plan")
			}
			if format == "json" && !json.Valid([]byte(stdout)) {
				t.Errorf("not JSON:\n%s", stdout)
			}
			if h.enginesCreated != 0 {
				t.Error("plan created an engine")
			}
		})
	}
}

func TestPlanOutputFile(t *testing.T) {
	root := testutil.RepoRoot(t)
	h := &harness{noPulumi: true}
	_, want, _ := h.run(t, "plan", "--dir", root, "--format", "dot")
	path := filepath.Join(t.TempDir(), "out", "lab.dot")
	code, stdout, stderr := h.run(t, "plan", "--dir", root, "--format", "dot", "-o", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want || stdout != "" {
		t.Errorf("file differs from the stdout plan (or stdout not empty: %q)", stdout)
	}
	if m := mode(t, path); m != 0o644 {
		t.Errorf("mode %v, want 0644", m)
	}
}

// labProjectWith writes Pulumi.yaml and Pulumi.<stack>.yaml into a new
// directory: the reference stack file with its first `old` replaced by
// `new` (the test fails when the lab file has no `old`). It returns the
// directory.
func labProjectWith(t *testing.T, stackName, old, new string) string {
	t.Helper()
	root := testutil.RepoRoot(t)
	project, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := os.ReadFile(filepath.Join(root, "Pulumi.lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(lab), old, new, 1)
	if edited == string(lab) {
		t.Fatalf("Pulumi.lab.yaml has no %q to replace", old)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"Pulumi.yaml": string(project), "Pulumi." + stackName + ".yaml": edited} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPlanBadConfig(t *testing.T) {
	dir := labProjectWith(t, "bad", "role: worker", "role: chef")
	h := &harness{noPulumi: true}
	code, stdout, stderr := h.run(t, "plan", "--dir", dir, "--stack", "bad")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s", code, stdout)
	}
	if !strings.HasPrefix(stderr, "nixlab plan: ") || !strings.Contains(stderr, "workers.role") || !strings.Contains(stderr, "chef") {
		t.Errorf("stderr does not name the key:\n%s", stderr)
	}
	if strings.Contains(stderr, "plan: plan:") {
		t.Errorf("stuttering prefix:\n%s", stderr)
	}
}
