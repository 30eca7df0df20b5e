package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEngineMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			// The shape of the auto package's error.
			name: "auto error",
			err: fmt.Errorf("failed to run update: %w\ncode: %d\nstdout: %s\nstderr: %s\n", errors.New("exit status 255"), 255,
				"Updating (lab):\n  pulumi:pulumi:Stack nixlab-lab running\n",
				"  error: update failed\n  nixlab:proxmox.endpoint is required\n"),
			want: "error: update failed\n  nixlab:proxmox.endpoint is required",
		},
		{
			name: "wrapped auto error",
			err:  fmt.Errorf("failed to create stack: %w", fmt.Errorf("x\ncode: 1\nstdout: \nstderr: error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions\n")),
			want: "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
		},
		{
			name: "empty stderr",
			err:  fmt.Errorf("failed to run update: exit status 255\ncode: 255\nstdout: lots\nstderr: \n"),
			want: "failed to run update: exit status 255",
		},
		{name: "plain", err: errors.New("context canceled"), want: "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engineMessage(tt.err); got != tt.want {
				t.Errorf("engineMessage = %q, want %q", got, tt.want)
			}
			ee := engineError(tt.err)
			var target *EngineError
			if !errors.As(ee, &target) || ee.Error() != tt.want || !errors.Is(ee, tt.err) {
				t.Errorf("engineError = %#v", ee)
			}
		})
	}
	if engineError(nil) != nil {
		t.Error("engineError(nil) != nil")
	}
}

func TestProjectDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := projectDir(dir); err == nil || !strings.Contains(err.Error(), "holds no Pulumi.yaml") {
		t.Fatalf("err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: nixlab\nruntime: go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := projectDir(dir)
	if err != nil || got != dir {
		t.Fatalf("projectDir = %q, %v", got, err)
	}
}

// TestAutoEngineNeedsProject runs the real engine on a directory without
// Pulumi.yaml: it must stop before it runs the Pulumi CLI or reaches a
// backend.
func TestAutoEngineNeedsProject(t *testing.T) {
	e := newAutoEngine()
	req := Request{Stack: "lab", Dir: t.TempDir(), Stdout: &strings.Builder{}, Stderr: &strings.Builder{}}
	ops := map[string]func() error{
		"up":      func() error { return e.Up(t.Context(), req) },
		"preview": func() error { return e.Preview(t.Context(), req) },
		"refresh": func() error { return e.Refresh(t.Context(), req) },
		"destroy": func() error { return e.Destroy(t.Context(), req) },
		"outputs": func() error { _, err := e.Outputs(t.Context(), req, false); return err },
	}
	for name, op := range ops {
		if err := op(); err == nil || !strings.Contains(err.Error(), "holds no Pulumi.yaml") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
