package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// The NixOS modules are evaluated, not only parsed: tests/testdata/nixeval/
// eval.nix calls every module of the node and the installer with the
// settings the stack renders, a stand-in lib and pkgs, and the merged config
// of all modules, and forces the result (see the comments there). Nix 2.8
// `nix-instantiate --eval --strict` runs it; no nixpkgs is needed.

// nixEvalDir is tests/testdata/nixeval.
func nixEvalDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testutil.RepoRoot(t), "tests", "testdata", "nixeval")
}

// renderedLabFlake deploys the reference lab stack under mocks (with the
// config overrides) and returns the flake directory NixOSTemplate rendered:
// the embedded nix sources with the settings.json the stack wrote.
func renderedLabFlake(t *testing.T, overrides map[string]string) string {
	t.Helper()
	cfg := labConfig(t, overrides)
	_, lab := deployLab(t, cfg, false)
	dir := filepath.Join(cfg["nixlab:stateDir"], "src", lab.Template.Hash[:16])
	if _, err := os.Stat(filepath.Join(dir, "settings.json")); err != nil {
		t.Fatalf("no rendered flake: %v", err)
	}
	return dir
}

// noNFSNoSwap are overrides that flip every settings-driven branch of the
// modules relative to the lab stack: no NFS, no swap, another admin user and
// time zone.
func noNFSNoSwap(t *testing.T) map[string]string {
	t.Helper()
	var template map[string]any
	if err := json.Unmarshal([]byte(labConfig(t, nil)["nixlab:template"]), &template); err != nil {
		t.Fatalf("lab template config: %v", err)
	}
	template["swapSizeGb"] = 0
	b, err := json.Marshal(template)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"nixlab:nfs": "",
		// Without NFS there is no StorageClass to configure.
		"nixlab:kubernetes": `{"cni":"flannel"}`,
		"nixlab:template":   string(b),
		"nixlab:adminUser":  "ops",
		"nixlab:timezone":   "Europe/Berlin",
	}
}

var (
	// pkgsAttr matches pkgs.<name>[.<sub>] outside comments.
	pkgsAttr = regexp.MustCompile(`\bpkgs\.([A-Za-z_][A-Za-z0-9_'-]*)(?:\.([A-Za-z_][A-Za-z0-9_'-]*))?`)
	// withPkgsList matches the list after `with pkgs;`.
	withPkgsList = regexp.MustCompile(`with pkgs;\s*\[([^\]]*)\]`)
	nixIdent     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)
)

// nixCodeOnly blanks out comments and string text (keeping ${...}
// interpolations, which are code), keeping every offset, so that scans see
// only attribute paths that are evaluated.
func nixCodeOnly(src string) string {
	const (
		code = iota
		brace
		interp
		dq
		ind
	)
	out := []byte(src)
	blank := func(from, to int) {
		for j := from; j < to && j < len(out); j++ {
			if out[j] != '\n' {
				out[j] = ' '
			}
		}
	}
	stack := []int{code}
	for i := 0; i < len(src); i++ {
		c, rest := src[i], src[i:]
		switch stack[len(stack)-1] {
		case code, brace, interp:
			switch {
			case c == '#':
				end := strings.IndexByte(rest, '\n')
				if end < 0 {
					end = len(rest)
				}
				blank(i, i+end)
				i += end - 1
			case strings.HasPrefix(rest, "/*"):
				end := strings.Index(rest[2:], "*/")
				if end < 0 {
					end = len(rest) - 4
				}
				blank(i, i+end+4)
				i += end + 3
			case c == '"':
				blank(i, i+1)
				stack = append(stack, dq)
			case strings.HasPrefix(rest, "''"):
				blank(i, i+2)
				i++
				stack = append(stack, ind)
			case c == '{':
				stack = append(stack, brace)
			case c == '}' && len(stack) > 1:
				stack = stack[:len(stack)-1]
			}
		case dq:
			switch {
			case c == '\\':
				blank(i, i+2)
				i++
			case strings.HasPrefix(rest, "${"):
				i++
				stack = append(stack, interp)
			case c == '"':
				blank(i, i+1)
				stack = stack[:len(stack)-1]
			default:
				blank(i, i+1)
			}
		case ind:
			switch {
			case strings.HasPrefix(rest, "''$"), strings.HasPrefix(rest, "'''"), strings.HasPrefix(rest, "''\\"):
				blank(i, i+3)
				i += 2
			case strings.HasPrefix(rest, "''"):
				blank(i, i+2)
				i++
				stack = stack[:len(stack)-1]
			case strings.HasPrefix(rest, "${"):
				i++
				stack = append(stack, interp)
			default:
				blank(i, i+1)
			}
		}
	}
	return string(out)
}

// pkgNames lists the pkgs attributes the modules in flakeDir (and the
// nixpkgs option stand-ins) name, for the pkgs stand-in.
func pkgNames(t *testing.T, flakeDir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(flakeDir, "modules", "*.nix"))
	if err != nil {
		t.Fatal(err)
	}
	extra, _ := filepath.Glob(filepath.Join(flakeDir, "extra", "*.nix"))
	files = append(files, extra...)
	files = append(files, filepath.Join(nixEvalDir(t), "nixpkgs-options.nix"))
	seen := map[string]bool{}
	for _, f := range files {
		src := nixCodeOnly(readFileString(t, f))
		for _, m := range pkgsAttr.FindAllStringSubmatch(src, -1) {
			seen[m[1]] = true
			if m[2] != "" {
				seen[m[1]+"."+m[2]] = true
			}
		}
		for _, m := range withPkgsList.FindAllStringSubmatch(src, -1) {
			for _, w := range strings.Fields(m[1]) {
				if nixIdent.MatchString(w) {
					seen[w] = true
				}
			}
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// moduleSummary is what eval.nix returns for a system.
type moduleSummary struct {
	FileSystems map[string]struct {
		Device  string   `json:"device"`
		FSType  string   `json:"fsType"`
		Options []string `json:"options"`
	} `json:"fileSystems"`
	SwapDevices    []string `json:"swapDevices"`
	Users          []string `json:"users"`
	TimeZone       *string  `json:"timeZone"`
	Services       []string `json:"services"`
	NixpkgsImports []string `json:"nixpkgsImports"`
}

// evalModules runs eval.nix on flakeDir; on failure it returns the error
// output.
func evalModules(t *testing.T, flakeDir string) (map[string]moduleSummary, string, error) {
	t.Helper()
	nixInstantiate := testutil.RequireTool(t, "nix-instantiate")
	names, err := json.Marshal(pkgNames(t, flakeDir))
	if err != nil {
		t.Fatal(err)
	}
	// Paths and names go in as strings: a temporary directory may hold
	// characters a Nix path literal cannot.
	expr := "{ evalFile, flakeDir, pkgNames }: import (/. + evalFile) { flakeDir = /. + flakeDir; pkgNames = builtins.fromJSON pkgNames; }"
	cmd := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "-E", expr,
		"--argstr", "evalFile", filepath.Join(nixEvalDir(t), "eval.nix"),
		"--argstr", "flakeDir", flakeDir,
		"--argstr", "pkgNames", string(names))
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	var got map[string]moduleSummary
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
		t.Fatalf("decode %q: %v", stdout.String(), err)
	}
	return got, stderr.String(), nil
}

// Every module evaluates against the settings the lab stack renders, and
// against settings that flip each settings-driven branch; the merged config
// follows the settings.
func TestNixModulesEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides func(t *testing.T) map[string]string
		nfs       bool
		swap      bool
		admin, tz string
	}{
		{"lab stack", func(*testing.T) map[string]string { return nil }, true, true, "nixos", "UTC"},
		{"no nfs, no swap", noNFSNoSwap, false, false, "ops", "Europe/Berlin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := renderedLabFlake(t, tc.overrides(t))
			got, stderr, err := evalModules(t, dir)
			if err != nil {
				t.Fatalf("evaluating the modules: %v\n%s", err, stderr)
			}
			node, installer := got["node"], got["installer"]
			nfs, ok := node.FileSystems["/mnt/nfs"]
			if ok != tc.nfs {
				t.Errorf("NFS mount present = %v, want %v: %v", ok, tc.nfs, node.FileSystems)
			}
			if tc.nfs && (nfs.Device != "192.168.1.4:/volume1/k8s-cluster-storage" || nfs.FSType != "nfs" ||
				!slices.Contains(nfs.Options, "x-systemd.automount") || !slices.Contains(nfs.Options, "nofail")) {
				t.Errorf("NFS mount = %+v", nfs)
			}
			if root := node.FileSystems["/"]; root.FSType != "ext4" || root.Device != "/dev/nixos-vg/root" {
				t.Errorf("root file system = %+v", root)
			}
			if got := len(node.SwapDevices) > 0; got != tc.swap {
				t.Errorf("swap devices %q, want swap = %v", node.SwapDevices, tc.swap)
			}
			if !slices.Contains(node.Users, tc.admin) {
				t.Errorf("node users %q lack the admin user %s", node.Users, tc.admin)
			}
			if node.TimeZone == nil || *node.TimeZone != tc.tz {
				t.Errorf("node time zone %v, want %s", node.TimeZone, tc.tz)
			}
			if !slices.Contains(installer.Services, "nixlab-install") {
				t.Errorf("installer services %q lack nixlab-install", installer.Services)
			}
		})
	}
}

// settingsRef matches an attribute read on the settings, the config or lib
// (outside comments): s.nfs, nfs.mountPoint, nixlabSettings.disk,
// config.nix.package, nixlabNode.config, lib.mkForce.
var settingsRef = regexp.MustCompile(`\b(s|nfs|nixlabSettings|config|nixlabNode|lib)\.([A-Za-z_][A-Za-z0-9_-]*)`)

// The evaluation catches what only `--parse` let through: misspelling any
// attribute a module reads from the settings, the config or lib makes it
// fail, in at least one of the two settings variants. Each reference of
// each module is misspelled in turn in a copy of the rendered tree.
func TestNixModulesEvalCatchesMisspellings(t *testing.T) {
	testutil.RequireTool(t, "nix-instantiate")
	variants := []string{renderedLabFlake(t, nil), renderedLabFlake(t, noNFSNoSwap(t))}
	for _, v := range variants {
		if _, stderr, err := evalModules(t, v); err != nil {
			t.Fatalf("the unchanged modules do not evaluate: %v\n%s", err, stderr)
		}
	}
	modules, err := filepath.Glob(filepath.Join(variants[0], "modules", "*.nix"))
	if err != nil {
		t.Fatal(err)
	}
	var tried int
	for _, m := range modules {
		rel, _ := filepath.Rel(variants[0], m)
		src := readFileString(t, m)
		code := nixCodeOnly(src) // offsets as in src
		for _, loc := range settingsRef.FindAllStringSubmatchIndex(code, -1) {
			attrEnd := loc[5]
			attr := code[loc[4]:loc[5]]
			mutated := src[:attrEnd] + "Xx" + src[attrEnd:]
			line := strings.Count(src[:loc[0]], "\n") + 1
			tried++
			killed := false
			for _, v := range variants {
				copyDir := copyTree(t, v)
				if err := os.WriteFile(filepath.Join(copyDir, rel), []byte(mutated), 0o644); err != nil {
					t.Fatal(err)
				}
				if _, stderr, err := evalModules(t, copyDir); err != nil {
					if !strings.Contains(stderr, "'"+attr+"Xx'") {
						t.Errorf("%s:%d: misspelled %s failed for another reason:\n%s", rel, line, attr, stderr)
					}
					killed = true
					break
				}
			}
			if !killed {
				t.Errorf("%s:%d: misspelling %q as %q still evaluates: that reference is never evaluated by the test", rel, line, code[loc[0]:loc[5]], attr+"Xx")
			}
		}
	}
	t.Logf("misspelled %d references, one at a time", tried)
	if tried < 10 {
		t.Errorf("only %d references found in the modules; the scan is broken", tried)
	}
}

// copyTree copies the directory src into a new temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
