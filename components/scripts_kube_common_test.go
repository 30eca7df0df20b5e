package components_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// kubeFuncRE matches a top-level shell function with the comment lines
// above it: `name() {` ... `}` at the start of a line.
var kubeFuncRE = regexp.MustCompile(`(?ms)((?:^#[^\n]*\n)*)^([a-z_]+)\(\) \{\n.*?^\}\n`)

// TestScriptKubeCommon_SharedFunctionsIdentical: each kube-*.sh is sent
// alone as `bash -c '<text>'`, so the helpers they share (log, redact, fail,
// run, wait_until, secret_file, ...) are repeated in each; a function
// defined in several of them must have the same text (and comment)
// everywhere, so a fix in one is a fix in all.
func TestScriptKubeCommon_SharedFunctionsIdentical(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scripts", "kube-*.sh"))
	if err != nil || len(files) != 9 {
		t.Fatalf("kube scripts: %q, %v; want 9", files, err)
	}
	seen := map[string]string{} // function -> script that defined it first
	bodies := map[string]string{}
	shared := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range kubeFuncRE.FindAllStringSubmatch(string(b), -1) {
			name, text := m[2], m[0]
			if name == "usage" || name == "parse_args" || name == "main" {
				// Per script by design.
				seen[name] = filepath.Base(f)
				continue
			}
			if first, ok := seen[name]; ok {
				shared[name]++
				if bodies[name] != text {
					t.Errorf("function %s differs between %s and %s", name, first, filepath.Base(f))
				}
				continue
			}
			seen[name] = filepath.Base(f)
			bodies[name] = text
		}
	}
	// The helpers every script needs are really shared.
	for _, name := range []string{"log", "redact", "fail", "run", "usage", "parse_args", "main"} {
		if _, ok := seen[name]; !ok {
			t.Errorf("no script defines %s", name)
		}
	}
	for name, want := range map[string]int{"log": 8, "redact": 8, "fail": 8, "run": 8} {
		if shared[name] != want {
			t.Errorf("%s repeated in %d more scripts, want %d", name, shared[name], want)
		}
	}
	var names []string
	for n := range shared {
		names = append(names, n)
	}
	t.Logf("shared helpers: %s", strings.Join(names, " "))
}
