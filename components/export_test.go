package components

import (
	"os"
	"path/filepath"
	"testing"
)

// ScriptText is script for the external tests: a script as it is sent to a
// machine, helper files inlined, but read from scripts/ on disk (the tests
// run in this directory) rather than from the embedded copy: a mutation run
// (tools/mutate) writes each mutant to disk and runs a test binary compiled
// once, whose embedded scripts would never change.
// TestEmbeddedScriptsAreTheFilesOnDisk keeps the two the same.
func ScriptText(name string) string {
	return inlineHelpers(name, func(n string) string {
		b, err := os.ReadFile(filepath.Join("scripts", n))
		if err != nil {
			panic("components: script " + n + " not on disk: " + err.Error())
		}
		return string(b)
	})
}

// The scripts the tests read from disk (ScriptText) are the ones nixlab
// embeds and sends (script). Named outside the TestScript* family: a
// mutation run of one script runs only that family, and this test would
// flag every mutant.
func TestEmbeddedScriptsAreTheFilesOnDisk(t *testing.T) {
	entries, err := scripts.ReadDir("scripts")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".sh" {
			continue
		}
		n++
		if ScriptText(e.Name()) != script(e.Name()) {
			t.Errorf("scripts/%s on disk differs from the embedded copy", e.Name())
		}
	}
	if n < 15 {
		t.Fatalf("only %d scripts embedded", n)
	}
}
