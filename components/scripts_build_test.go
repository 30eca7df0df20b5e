package components_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// This file also holds the helpers shared by the scripts_*_test.go files.

// scriptResult is the outcome of one script run.
type scriptResult struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// scriptFile returns the absolute path of a script in components/scripts.
func scriptFile(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("script %s: %v", name, err)
	}
	return path
}

// scriptRun runs `bash <script> args...` in dir with exactly env (nothing is
// inherited from the test process) and returns what happened.
func scriptRun(t *testing.T, dir string, env []string, script string, args ...string) scriptResult {
	t.Helper()
	bash := testutil.RequireTool(t, "bash")
	return scriptRunArgv(t, dir, env, append([]string{bash, scriptFile(t, script)}, args...))
}

// scriptDeadline bounds every script run: a wait loop that never ends fails
// its test after this long instead of hanging until `go test` times out.
// Fakes answer at once; the longest run (60 polls of finalize) takes a few
// seconds, so the margin is for a loaded machine.
const scriptDeadline = 45 * time.Second

// scriptRunArgv runs argv in dir with exactly env and fails the test when
// the run does not finish within scriptDeadline.
func scriptRunArgv(t *testing.T, dir string, env []string, argv []string) scriptResult {
	t.Helper()
	res, err := scriptExec(dir, env, argv, scriptDeadline)
	name := filepath.Base(argv[1])
	if argv[1] == "-c" {
		name = "bash -c"
	}
	t.Logf("%s exit %d in %v\nstdout:\n%s\nstderr:\n%s", name, res.code, res.took.Round(time.Millisecond), res.stdout, res.stderr)
	if err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
	return res
}

// errScriptDeadline reports a run killed at its deadline.
var errScriptDeadline = errors.New("did not finish in time (a wait loop that never ends?); killed")

// scriptExec runs argv in dir with exactly env (nothing is inherited). The
// script runs in its own process group, which is killed as a whole (fake
// tools and their sleeps included) when the deadline passes; the result
// then holds what was printed so far and the error is errScriptDeadline.
func scriptExec(dir string, env []string, argv []string, deadline time.Duration) (scriptResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	// Pdeathsig: a script must not outlive a test binary that is killed
	// (by go test's -timeout, or by tools/mutate's limit).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := scriptResult{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%w after %v", errScriptDeadline, deadline)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		return res, err
	}
	return res, nil
}

// scriptToolDir returns a directory holding links to just the named tools,
// for a PATH that must not contain anything else (e.g. no nix).
func scriptToolDir(t *testing.T, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range tools {
		path := testutil.RequireTool(t, tool)
		if err := os.Symlink(path, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scriptShellcheck fails the test when shellcheck reports anything on script.
func scriptShellcheck(t *testing.T, script string) {
	t.Helper()
	shellcheck := testutil.RequireTool(t, "shellcheck")
	out, err := exec.Command(shellcheck, "--shell=bash", "--severity=style", scriptFile(t, script)).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck %s: %v\n%s", script, err, out)
	}
}

func scriptMustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("%s does not contain %q:\n%s", what, want, got)
		}
	}
}

func scriptReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func scriptWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const buildISOAttr = "#nixosConfigurations.installer.config.system.build.isoImage"

// scriptFakeNix is a nix that records its argv, then "builds" a result directory
// with $FAKE_NIX_ISOS (space-separated, default x.iso) under iso/ and points
// the --out-link at it. FAKE_NIX_FAIL=1 makes the build fail;
// FAKE_NIX_NOT_AN_ISO=1 builds something without iso/ (a system, say).
// Asked for the node system (…#nixosConfigurations.node.config.system.build.
// toplevel) it builds $FAKE_NIX_STORE/$FAKE_NIX_SYSTEM (default a toplevel
// name as nixpkgs forms it, nixos/modules/system/activation/top-level.nix:
// <hash>-nixos-system-<name>-<version>) and links --out-link to it.
//
// Like `nix build` it puts the result where --out-link says (a symlink into
// the store) and logs on stderr; the line it prints on stdout checks that the
// script keeps stdout clean. A failed build exits 100 ("Generic build
// failure: the builder process returned with a non-zero exit code", Nix
// manual, command-ref/status-build-failure.md) after an "error: builder for
// '<drv>' failed with exit code N" line.
const scriptFakeNix = `
printf '%s\n' "$@" >"$FAKE_NIX_ARGV"
echo "/nix/store/fake-stdout-that-must-not-leak"
if [[ -n "${FAKE_NIX_FAIL:-}" ]]; then
  echo "error: builder for '/nix/store/fake-nixos.iso.drv' failed with exit code 1" >&2
  exit 100
fi
ref="${!#}"
dir="${ref#path:}"
dir="${dir%%#*}"
if [[ -f "$dir/flake.nix" ]]; then echo "flake.nix present" >"$FAKE_NIX_ARGV.flake"; fi
if [[ -n "${FAKE_NIX_WRITE_LOCK:-}" ]]; then printf '%s\n' "$FAKE_NIX_WRITE_LOCK" >"$dir/flake.lock"; fi
link=""
while (( $# > 0 )); do
  if [[ "$1" == --out-link ]]; then link="$2"; shift; fi
  shift
done
if [[ "$ref" == *"#nixosConfigurations.node.config.system.build.toplevel" ]]; then
  out="$FAKE_NIX_STORE/${FAKE_NIX_SYSTEM:-0123456789abcdfghijklmnpqrsvwxyz-nixos-system-nixos-26.05.20260101.0000000}"
  mkdir -p "$out/bin"
  ln -sfn "$out" "$link"
  echo "fake nix: built $out" >&2
  exit 0
fi
out="$FAKE_NIX_STORE/fake-nixos.iso"
if [[ -n "${FAKE_NIX_NOT_AN_ISO:-}" ]]; then
  mkdir -p "$out/bin"
  ln -sfn "$out" "$link"
  exit 0
fi
mkdir -p "$out/iso"
for n in ${FAKE_NIX_ISOS-x.iso}; do printf 'ISO %s' "$n" >"$out/iso/$n"; done
ln -sfn "$out" "$link"
echo "fake nix: built $out" >&2
`

// buildFixture is a Pulumi project dir with a rendered flake and a fake nix.
// Staging copies go into the test's own temporary directory (tmp), never
// into the shared /tmp.
type buildFixture struct {
	project, flake, fakeBin, store, argvFile, tmp string
}

func newBuildFixture(t *testing.T) buildFixture {
	t.Helper()
	f := buildFixture{project: t.TempDir(), fakeBin: t.TempDir(), store: t.TempDir(), tmp: t.TempDir()}
	f.flake = filepath.Join(f.project, "flake")
	f.argvFile = filepath.Join(f.fakeBin, "nix.argv")
	scriptWriteFile(t, filepath.Join(f.flake, "flake.nix"), "{ outputs = _: { }; }\n")
	scriptWriteFile(t, filepath.Join(f.flake, "settings.json"), "{}\n")
	testutil.WriteFake(t, f.fakeBin, "nix", scriptFakeNix)
	return f
}

func (f buildFixture) env(extra ...string) []string {
	return append([]string{
		"PATH=" + testutil.PathWith(f.fakeBin),
		"HOME=" + f.project,
		"FAKE_NIX_ARGV=" + f.argvFile,
		"FAKE_NIX_STORE=" + f.store,
		"TMPDIR=" + f.tmp,
	}, extra...)
}

func TestScriptBuildISO_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "build-iso.sh")
}

func TestScriptBuildISO_CreateWithNix(t *testing.T) {
	f := newBuildFixture(t)
	scriptWriteFile(t, filepath.Join(f.flake, "flake.lock"), `{"version": 7}`+"\n")
	res := scriptRun(t, f.project, f.env(
		"NIXLAB_FLAKE_DIR=flake",
		"NIXLAB_OUT_LINK=.nixlab/iso/0123456789abcdef",
		"NIXLAB_PREBUILT_ISO=",
		"NIXLAB_LOCK_COPY=.nixlab/flake.lock",
	), "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if want := ".nixlab/iso/0123456789abcdef/iso/x.iso\n"; res.stdout != want {
		t.Errorf("stdout = %q, want %q", res.stdout, want)
	}
	absFlake, err := filepath.EvalSymlinks(f.flake)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := strings.Join([]string{
		"--extra-experimental-features", "nix-command flakes", "build", "--print-build-logs",
		"--out-link", ".nixlab/iso/0123456789abcdef", "path:" + absFlake + buildISOAttr,
	}, "\n") + "\n"
	if got := scriptReadFile(t, f.argvFile); got != wantArgv {
		t.Errorf("nix argv:\n%s\nwant:\n%s", got, wantArgv)
	}
	link := filepath.Join(f.project, ".nixlab/iso/0123456789abcdef")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("out link %s is not a symlink: %v", link, err)
	}
	if got := scriptReadFile(t, filepath.Join(f.project, ".nixlab/flake.lock")); got != `{"version": 7}`+"\n" {
		t.Errorf("copied flake.lock = %q", got)
	}
	scriptMustContain(t, "stderr", res.stderr, "fake nix: built", "nixos/flake.lock")
}

func TestScriptBuildISO_CreateStagesUnsafeFlakeDir(t *testing.T) {
	f := newBuildFixture(t)
	spaced := filepath.Join(f.project, "my flake")
	if err := os.Rename(f.flake, spaced); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	res := scriptRun(t, f.project, f.env(
		"TMPDIR="+tmp,
		"NIXLAB_FLAKE_DIR="+spaced,
		"NIXLAB_OUT_LINK=out",
		"NIXLAB_LOCK_COPY=lock/flake.lock",
		`FAKE_NIX_WRITE_LOCK={"written": "by nix"}`,
	), "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "out/iso/x.iso\n" {
		t.Errorf("stdout = %q", res.stdout)
	}
	argv := strings.Split(strings.TrimSpace(scriptReadFile(t, f.argvFile)), "\n")
	ref := argv[len(argv)-1]
	if strings.ContainsAny(ref, " ") || !strings.HasPrefix(ref, "path:"+tmp+"/") || !strings.HasSuffix(ref, buildISOAttr) {
		t.Errorf("flake reference %q: want a staged copy under %s without spaces", ref, tmp)
	}
	if got := scriptReadFile(t, f.argvFile+".flake"); got != "flake.nix present\n" {
		t.Errorf("staged copy lacks flake.nix")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("staging directory left behind: %v", entries)
	}
	if strings.Contains(res.stderr, "warning") {
		t.Errorf("a warning although flake.lock was copied back: %q", res.stderr)
	}
	for _, p := range []string{filepath.Join(spaced, "flake.lock"), filepath.Join(f.project, "lock/flake.lock")} {
		if got := scriptReadFile(t, p); got != `{"written": "by nix"}`+"\n" {
			t.Errorf("%s = %q", p, got)
		}
	}
}

func TestScriptBuildISO_CreateWithoutLockSkipsCopy(t *testing.T) {
	f := newBuildFixture(t)
	res := scriptRun(t, f.project, f.env(
		"NIXLAB_FLAKE_DIR="+f.flake,
		"NIXLAB_OUT_LINK="+filepath.Join(f.project, "out/link"),
		"NIXLAB_LOCK_COPY="+filepath.Join(f.project, "lock/flake.lock"),
	), "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if want := filepath.Join(f.project, "out/link/iso/x.iso") + "\n"; res.stdout != want {
		t.Errorf("stdout = %q, want %q", res.stdout, want)
	}
	if _, err := os.Stat(filepath.Join(f.project, "lock/flake.lock")); !os.IsNotExist(err) {
		t.Errorf("flake.lock copied although the build wrote none: %v", err)
	}
}

func TestScriptBuildISO_NixMissing(t *testing.T) {
	f := newBuildFixture(t)
	tools := scriptToolDir(t, "bash", "mkdir", "ln", "cp", "rm")
	env := []string{
		"PATH=" + tools, // no nix, not even a real one
		"HOME=" + f.project,
		"NIXLAB_FLAKE_DIR=" + f.flake,
		"NIXLAB_OUT_LINK=" + filepath.Join(f.project, "out"),
	}
	res := scriptRun(t, f.project, env, "build-iso.sh", "create")
	if res.code == 0 {
		t.Fatal("succeeded without nix")
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr,
		"https://nixos.org/download", "experimental-features = nix-command flakes", "nixlab:template.isoPath")
}

func TestScriptBuildISO_NixFails(t *testing.T) {
	f := newBuildFixture(t)
	link := filepath.Join(f.project, "out")
	res := scriptRun(t, f.project, f.env(
		"NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK="+link, "FAKE_NIX_FAIL=1",
	), "build-iso.sh", "create")
	if res.code != 100 {
		t.Fatalf("exit %d, want nix's 100", res.code)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, "builder for '/nix/store/fake-nixos.iso.drv' failed", "nix build failed (exit 100)")
}

func TestScriptBuildISO_WrongNumberOfISOs(t *testing.T) {
	for _, tc := range []struct {
		name, isos string
		wants      []string
	}{
		{"none", "", []string{"found an empty directory"}},
		{"none but other files", "x.img README", []string{"found none", "x.img", "README"}},
		{"two", "a.iso b.iso", []string{"found 2", "a.iso", "b.iso"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBuildFixture(t)
			res := scriptRun(t, f.project, f.env(
				"NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK="+filepath.Join(f.project, "out"), "FAKE_NIX_ISOS="+tc.isos,
			), "build-iso.sh", "create")
			if res.code == 0 {
				t.Fatal("succeeded")
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, append([]string{"expected exactly one .iso"}, tc.wants...)...)
		})
	}
}

func TestScriptBuildISO_Prebuilt(t *testing.T) {
	f := newBuildFixture(t)
	scriptWriteFile(t, filepath.Join(f.project, "images/my installer.iso"), "ISO")
	tools := scriptToolDir(t, "bash", "mkdir", "ln", "cp", "rm")
	env := []string{
		"PATH=" + tools, // no nix needed
		"HOME=" + f.project,
		"NIXLAB_FLAKE_DIR=" + f.flake,
		"NIXLAB_OUT_LINK=.nixlab/iso/abc",
		"NIXLAB_PREBUILT_ISO=images/my installer.iso",
		"NIXLAB_LOCK_COPY=.nixlab/flake.lock",
	}
	res := scriptRun(t, f.project, env, "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	abs := filepath.Join(f.project, "images/my installer.iso")
	if res.stdout != abs+"\n" {
		t.Errorf("stdout = %q, want %q", res.stdout, abs+"\n")
	}
	target, err := os.Readlink(filepath.Join(f.project, ".nixlab/iso/abc"))
	if err != nil {
		t.Fatal(err)
	}
	if target != abs {
		t.Errorf("out link points at %q, want %q", target, abs)
	}
	if _, err := os.Stat(f.argvFile); !os.IsNotExist(err) {
		t.Errorf("nix was run for a prebuilt ISO")
	}

	// Running again (e.g. a changed prebuilt path) replaces the link.
	scriptWriteFile(t, filepath.Join(f.project, "other.iso"), "ISO2")
	env[4] = "NIXLAB_PREBUILT_ISO=" + filepath.Join(f.project, "other.iso")
	if res := scriptRun(t, f.project, env, "build-iso.sh", "create"); res.code != 0 {
		t.Fatalf("second run: exit %d", res.code)
	}
	if target, _ := os.Readlink(filepath.Join(f.project, ".nixlab/iso/abc")); target != filepath.Join(f.project, "other.iso") {
		t.Errorf("out link not replaced: %q", target)
	}
}

func TestScriptBuildISO_PrebuiltInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		setup      func(t *testing.T, project string) string
	}{
		{"missing", "does not exist", func(t *testing.T, project string) string {
			return filepath.Join(project, "nope.iso")
		}},
		{"empty", "is empty", func(t *testing.T, project string) string {
			p := filepath.Join(project, "empty.iso")
			scriptWriteFile(t, p, "")
			return p
		}},
		{"directory", "not a regular file", func(t *testing.T, project string) string {
			p := filepath.Join(project, "dir.iso")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBuildFixture(t)
			iso := tc.setup(t, f.project)
			res := scriptRun(t, f.project, f.env(
				"NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK="+filepath.Join(f.project, "out"), "NIXLAB_PREBUILT_ISO="+iso,
			), "build-iso.sh", "create")
			if res.code == 0 {
				t.Fatal("succeeded")
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, "nixlab:template.isoPath", tc.want)
			if _, err := os.Lstat(filepath.Join(f.project, "out")); !os.IsNotExist(err) {
				t.Errorf("out link created for an invalid prebuilt ISO")
			}
		})
	}
}

func TestScriptBuildISO_Delete(t *testing.T) {
	f := newBuildFixture(t)
	env := f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=.nixlab/iso/abc")
	if res := scriptRun(t, f.project, env, "build-iso.sh", "create"); res.code != 0 {
		t.Fatalf("create: exit %d", res.code)
	}
	sibling := filepath.Join(f.project, ".nixlab/iso/other")
	scriptWriteFile(t, sibling, "keep")

	res := scriptRun(t, f.project, env, "build-iso.sh", "delete")
	if res.code != 0 || res.stdout != "" {
		t.Fatalf("delete: exit %d, stdout %q", res.code, res.stdout)
	}
	if _, err := os.Lstat(filepath.Join(f.project, ".nixlab/iso/abc")); !os.IsNotExist(err) {
		t.Errorf("out link still there: %v", err)
	}
	for _, keep := range []string{sibling, filepath.Join(f.store, "fake-nixos.iso/iso/x.iso"), filepath.Join(f.flake, "flake.nix")} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("delete removed %s: %v", keep, err)
		}
	}

	scriptMustContain(t, "delete stderr", res.stderr, "removed the GC root .nixlab/iso/abc")

	// Already gone: still a success.
	if res := scriptRun(t, f.project, env, "build-iso.sh", "delete"); res.code != 0 || !strings.Contains(res.stderr, "GC root .nixlab/iso/abc is already gone") {
		t.Errorf("second delete: exit %d, stderr %q", res.code, res.stderr)
	}

	// Not a symlink: left alone, with a warning.
	scriptWriteFile(t, filepath.Join(f.project, ".nixlab/iso/abc"), "not a link")
	res = scriptRun(t, f.project, env, "build-iso.sh", "delete")
	if res.code != 0 || !strings.Contains(res.stderr, "warning: .nixlab/iso/abc is not a symlink; leaving it alone") {
		t.Errorf("delete of a non-link: exit %d, stderr %q", res.code, res.stderr)
	}
	if got := scriptReadFile(t, filepath.Join(f.project, ".nixlab/iso/abc")); got != "not a link" {
		t.Errorf("a plain file at the out link was touched")
	}
}

func TestScriptBuildISO_Usage(t *testing.T) {
	f := newBuildFixture(t)
	for _, args := range [][]string{nil, {"update"}, {"create", "extra"}} {
		res := scriptRun(t, f.project, f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out"), "build-iso.sh", args...)
		if res.code != 2 || !strings.Contains(res.stderr, "usage:") {
			t.Errorf("args %q: exit %d, stderr %q; want usage and exit 2", args, res.code, res.stderr)
		}
	}
	if _, err := os.Stat(f.argvFile); !os.IsNotExist(err) {
		t.Errorf("nix ran on a usage error")
	}
}

// A file or directory (not a symlink) where the GC root goes is never
// replaced, neither by a build nor by a prebuilt ISO; trailing slashes on
// the link path are ignored.
func TestScriptBuildISO_RefusesToReplaceAFile(t *testing.T) {
	for _, prebuilt := range []bool{false, true} {
		f := newBuildFixture(t)
		link := filepath.Join(f.project, ".nixlab", "iso", "abc")
		scriptWriteFile(t, link, "user data")
		env := f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK="+link+"//")
		if prebuilt {
			iso := filepath.Join(f.project, "prebuilt.iso")
			scriptWriteFile(t, iso, "ISO")
			env = append(env, "NIXLAB_PREBUILT_ISO="+iso)
		}
		res := scriptRun(t, f.project, env, "build-iso.sh", "create")
		if res.code != 1 || res.stdout != "" {
			t.Errorf("prebuilt=%v: exit %d, stdout %q; want 1 and nothing", prebuilt, res.code, res.stdout)
		}
		scriptMustContain(t, "stderr", res.stderr, link+" exists and is not a symlink; refusing to replace it")
		if got := scriptReadFile(t, link); got != "user data" {
			t.Errorf("prebuilt=%v: the file at the link was changed to %q", prebuilt, got)
		}
		if _, err := os.Stat(f.argvFile); !os.IsNotExist(err) {
			t.Errorf("prebuilt=%v: nix ran although the link cannot be made (%v)", prebuilt, err)
		}
	}
}

// A TMPDIR that cannot be part of a flake reference is not used for the
// staging copy; /tmp is.
func TestScriptBuildISO_StagingAvoidsAnUnsafeTMPDIR(t *testing.T) {
	f := newBuildFixture(t)
	spaced := filepath.Join(f.project, "my flake")
	if err := os.Rename(f.flake, spaced); err != nil {
		t.Fatal(err)
	}
	unsafeTmp := filepath.Join(t.TempDir(), "my tmp")
	if err := os.MkdirAll(unsafeTmp, 0o755); err != nil {
		t.Fatal(err)
	}
	res := scriptRun(t, f.project, f.env("TMPDIR="+unsafeTmp, "NIXLAB_FLAKE_DIR="+spaced, "NIXLAB_OUT_LINK=out"), "build-iso.sh", "create")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	argv := strings.Split(strings.TrimSpace(scriptReadFile(t, f.argvFile)), "\n")
	if ref := argv[len(argv)-1]; !strings.HasPrefix(ref, "path:/tmp/nixlab-flake.") {
		t.Errorf("flake reference %q, want a staged copy under /tmp", ref)
	}
}

func TestScriptBuildISO_LockCopy(t *testing.T) {
	t.Run("not asked for", func(t *testing.T) {
		f := newBuildFixture(t)
		res := scriptRun(t, f.project, f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out", `FAKE_NIX_WRITE_LOCK={"v": 7}`), "build-iso.sh", "create")
		if res.code != 0 {
			t.Fatalf("exit %d", res.code)
		}
		if strings.Contains(res.stderr, "flake.lock") {
			t.Errorf("stderr mentions flake.lock although no copy was asked for: %q", res.stderr)
		}
	})
	t.Run("destination cannot be created", func(t *testing.T) {
		f := newBuildFixture(t)
		blocker := filepath.Join(f.project, "file")
		scriptWriteFile(t, blocker, "a file, not a directory")
		res := scriptRun(t, f.project, f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out",
			"NIXLAB_LOCK_COPY="+filepath.Join(blocker, "sub", "flake.lock"), `FAKE_NIX_WRITE_LOCK={"v": 7}`), "build-iso.sh", "create")
		if res.code != 0 {
			t.Fatalf("exit %d: a lock copy problem must not fail the build", res.code)
		}
		if res.stdout != "out/iso/x.iso\n" {
			t.Errorf("stdout %q", res.stdout)
		}
		scriptMustContain(t, "stderr", res.stderr, "warning: cannot create the directory for", "flake.lock not copied")
	})
}

// A build whose result has no iso/ directory is no ISO.
func TestScriptBuildISO_ResultIsNotAnISO(t *testing.T) {
	f := newBuildFixture(t)
	res := scriptRun(t, f.project, f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK=out", "FAKE_NIX_NOT_AN_ISO=1"), "build-iso.sh", "create")
	if res.code != 1 || res.stdout != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", res.code, res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, "out/iso does not exist (the build result is not an ISO image)")
}

// The GC root must not be / (however many slashes).
func TestScriptBuildISO_OutLinkRoot(t *testing.T) {
	for _, link := range []string{"/", "///"} {
		f := newBuildFixture(t)
		for _, action := range []string{"create", "delete"} {
			res := scriptRun(t, f.project, f.env("NIXLAB_FLAKE_DIR="+f.flake, "NIXLAB_OUT_LINK="+link), "build-iso.sh", action)
			if res.code != 1 || !strings.Contains(res.stderr, "NIXLAB_OUT_LINK must not be /") {
				t.Errorf("%s with link %q: exit %d, stderr %q", action, link, res.code, res.stderr)
			}
		}
	}
}
