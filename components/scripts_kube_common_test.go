package components_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/components"
)

// kubeFuncRE matches a top-level shell function with the comment lines
// above it: `name() {` ... `}` at the start of a line.
var kubeFuncRE = regexp.MustCompile(`(?ms)((?:^#[^\n]*\n)*)^([a-z_]+)\(\) \{\n.*?^\}\n`)

// TestScriptKubeCommon_SharedInOnePlace: the helpers the kube scripts share
// live in kube-common.sh only; every kube script sources it exactly once
// and defines none of its functions again, and the text sent to a node
// (components.ScriptText) has it inlined, with no `source` left (a script
// sent as `bash -c` has no file beside it).
func TestScriptKubeCommon_SharedInOnePlace(t *testing.T) {
	lib, err := os.ReadFile(filepath.Join("scripts", "kube-common.sh"))
	if err != nil {
		t.Fatal(err)
	}
	common := map[string]bool{}
	for _, m := range kubeFuncRE.FindAllStringSubmatch(string(lib), -1) {
		common[m[2]] = true
	}
	for _, name := range []string{"log", "redact", "fail", "run", "wait_until", "secret_file", "check_version"} {
		if !common[name] {
			t.Errorf("kube-common.sh does not define %s", name)
		}
	}
	files, err := filepath.Glob(filepath.Join("scripts", "kube-*.sh"))
	if err != nil || len(files) != 10 {
		t.Fatalf("kube scripts: %q, %v; want 9 and kube-common.sh", files, err)
	}
	const include = `source "${BASH_SOURCE[0]%/*}/kube-common.sh"`
	for _, f := range files {
		name := filepath.Base(f)
		if name == "kube-common.sh" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"+include+"\n"); n != 1 {
			t.Errorf("%s sources kube-common.sh %d times, want once", name, n)
		}
		for _, m := range kubeFuncRE.FindAllStringSubmatch(string(b), -1) {
			if common[m[2]] {
				t.Errorf("%s defines %s again; it is in kube-common.sh", name, m[2])
			}
		}
		sent := components.ScriptText(name)
		if strings.Contains(sent, include) || !strings.Contains(sent, "\nlog() {\n") || !strings.HasPrefix(sent, "#!/usr/bin/env bash\n") {
			t.Errorf("%s as sent does not have kube-common.sh inlined in place of its source line", name)
		}
	}
}
