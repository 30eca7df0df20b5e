package components_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildSystemAttr is the flake attribute build-iso.sh builds for
// NIXLAB_BUILD_KIND=system: the node system's toplevel.
const buildSystemAttr = "#nixosConfigurations.node.config.system.build.toplevel"

// systemEnv is the environment of a node system build in fixture f: the
// fake store is the Nix store (NIX_STORE_DIR, which nix itself reads).
func (f buildFixture) systemEnv(extra ...string) []string {
	return f.env(append([]string{"NIXLAB_BUILD_KIND=system", "NIX_STORE_DIR=" + f.store}, extra...)...)
}

// The node system is built from the same flake with its own GC root;
// stdout is the store path (one line), nothing else.
func TestScriptBuildISO_SystemCreate(t *testing.T) {
	f := newBuildFixture(t)
	scriptWriteFile(t, filepath.Join(f.flake, "flake.lock"), `{"version": 7}`+"\n")
	res := scriptRun(t, f.project, f.systemEnv(
		"NIXLAB_FLAKE_DIR=flake",
		"NIXLAB_OUT_LINK=.nixlab/system/0123456789abcdef",
		"NIXLAB_LOCK_COPY=.nixlab/flake.lock",
	), "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	system := filepath.Join(f.store, "0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nixos-26.05.20260101.0000000")
	if res.stdout != system+"\n" {
		t.Errorf("stdout = %q, want the store path %q", res.stdout, system)
	}
	absFlake, err := filepath.EvalSymlinks(f.flake)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := strings.Join([]string{
		"--extra-experimental-features", "nix-command flakes", "build", "--print-build-logs",
		"--out-link", ".nixlab/system/0123456789abcdef", "path:" + absFlake + buildSystemAttr,
	}, "\n") + "\n"
	if got := scriptReadFile(t, f.argvFile); got != wantArgv {
		t.Errorf("nix argv:\n%s\nwant:\n%s", got, wantArgv)
	}
	if target, err := os.Readlink(filepath.Join(f.project, ".nixlab/system/0123456789abcdef")); err != nil || target != system {
		t.Errorf("GC root points at %q (%v), want %q", target, err, system)
	}
	if got := scriptReadFile(t, filepath.Join(f.project, ".nixlab/flake.lock")); got != `{"version": 7}`+"\n" {
		t.Errorf("copied flake.lock = %q", got)
	}
	scriptMustContain(t, "stderr", res.stderr, "building the node system from path:", "built "+system)

	// Delete removes the GC root and nothing else.
	res = scriptRun(t, f.project, f.systemEnv("NIXLAB_OUT_LINK=.nixlab/system/0123456789abcdef"), "build-iso.sh", "delete")
	if res.code != 0 || res.stdout != "" {
		t.Fatalf("delete: exit %d, stdout %q", res.code, res.stdout)
	}
	if _, err := os.Lstat(filepath.Join(f.project, ".nixlab/system/0123456789abcdef")); !os.IsNotExist(err) {
		t.Errorf("GC root still there: %v", err)
	}
	if _, err := os.Stat(system); err != nil {
		t.Errorf("delete touched the store path: %v", err)
	}
}

// A flake path that cannot be a flake reference is staged for the system
// build too (the shared flake handling).
func TestScriptBuildISO_SystemStagesUnsafeFlakeDir(t *testing.T) {
	f := newBuildFixture(t)
	spaced := filepath.Join(f.project, "my flake")
	if err := os.Rename(f.flake, spaced); err != nil {
		t.Fatal(err)
	}
	res := scriptRun(t, f.project, f.systemEnv("NIXLAB_FLAKE_DIR="+spaced, "NIXLAB_OUT_LINK=out"), "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	argv := strings.Split(strings.TrimSpace(scriptReadFile(t, f.argvFile)), "\n")
	if ref := argv[len(argv)-1]; strings.Contains(ref, " ") || !strings.HasPrefix(ref, "path:"+f.tmp+"/") || !strings.HasSuffix(ref, buildSystemAttr) {
		t.Errorf("flake reference %q: want a staged copy under %s", ref, f.tmp)
	}
	if entries, _ := os.ReadDir(f.tmp); len(entries) != 0 {
		t.Errorf("staging directory left behind: %v", entries)
	}
	// The build wrote no flake.lock: nothing to copy back, nothing to warn about.
	if strings.Contains(res.stderr, "warning") {
		t.Errorf("a warning although the build wrote no flake.lock: %q", res.stderr)
	}
	if _, err := os.Stat(filepath.Join(spaced, "flake.lock")); !os.IsNotExist(err) {
		t.Errorf("a flake.lock appeared in the flake directory: %v", err)
	}
}

// What the system build refuses, each with a message that says why, and
// nothing on stdout.
func TestScriptBuildISO_SystemRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   func(f buildFixture) []string
		code  int
		wants []string
		nix   bool // nix ran
	}{
		{"result is not a NixOS system", func(f buildFixture) []string {
			return f.systemEnv("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out", "FAKE_NIX_SYSTEM=0123456789abcdfghijklmnpqrsvwxyz-hello-2.12")
		}, 1, []string{"-hello-2.12, which is not a NixOS system"}, true},
		{"result is outside the store", func(f buildFixture) []string {
			return f.env("NIXLAB_BUILD_KIND=system", "NIX_STORE_DIR=/nix/store", "NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out")
		}, 1, []string{"which is not in the Nix store /nix/store"}, true},
		{"prebuilt ISO", func(f buildFixture) []string {
			iso := filepath.Join(f.project, "prebuilt.iso")
			scriptWriteFile(t, iso, "ISO")
			return f.systemEnv("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out", "NIXLAB_PREBUILT_ISO="+iso)
		}, 1, []string{"nixlab:template.isoPath", "carries no node system", "cannot be rolled"}, false},
		{"unknown kind", func(f buildFixture) []string {
			return f.env("NIXLAB_BUILD_KIND=vm", "NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out")
		}, 1, []string{"invalid NIXLAB_BUILD_KIND 'vm': use iso or system"}, false},
		{"nix fails", func(f buildFixture) []string {
			return f.systemEnv("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out", "FAKE_NIX_FAIL=1")
		}, 100, []string{"nix build failed (exit 100)"}, true},
		{"no nix", func(f buildFixture) []string {
			return []string{"PATH=" + scriptToolDir(t, "bash", "mkdir", "ln", "cp", "rm"), "HOME=" + f.project,
				"NIXLAB_BUILD_KIND=system", "NIXLAB_FLAKE_DIR=" + f.flake, "NIXLAB_OUT_LINK=out"}
		}, 1, []string{"nix is not on PATH, so the node system cannot be built", "https://nixos.org/download"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBuildFixture(t)
			res := scriptRun(t, f.project, tc.env(f), "build-iso.sh", "create")
			if res.code != tc.code || res.stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", res.code, res.stdout, tc.code)
			}
			scriptMustContain(t, "stderr", res.stderr, tc.wants...)
			if _, err := os.Stat(f.argvFile); (err == nil) != tc.nix {
				t.Errorf("nix ran = %v, want %v", err == nil, tc.nix)
			}
		})
	}
}
