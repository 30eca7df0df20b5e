package tests

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// projectConfig reads the config schema of Pulumi.yaml.
func projectConfig(t *testing.T) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name    string                    `yaml:"name"`
		Runtime string                    `yaml:"runtime"`
		Config  map[string]map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Name != "nixlab" || doc.Runtime != "go" {
		t.Fatalf("Pulumi.yaml: name %q runtime %q", doc.Name, doc.Runtime)
	}
	return doc.Config
}

func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	schema := projectConfig(t)
	var declared []string
	for key, entry := range schema {
		declared = append(declared, key)
		if entry["type"] == nil || entry["description"] == nil {
			t.Errorf("Pulumi.yaml config %s lacks a type or description", key)
		}
	}
	sort.Strings(declared)
	want := append([]string(nil), stack.Keys...)
	sort.Strings(want)
	if !slices.Equal(declared, want) {
		t.Errorf("Pulumi.yaml declares %v, the program reads %v", declared, want)
	}
	if schema["apiToken"]["secret"] != true {
		t.Error("apiToken is not declared secret in Pulumi.yaml")
	}
}

// configPaths lists every setting of the stack config as a dotted path, as
// the README names them (map keys appear as <name>).
func configPaths(prefix string, typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		var out []string
		for i := 0; i < typ.NumField(); i++ {
			tag := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			out = append(out, configPaths(join(prefix, tag), typ.Field(i).Type)...)
		}
		return out
	case reflect.Map:
		return configPaths(join(prefix, "<name>"), typ.Elem())
	default:
		return []string{prefix}
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	paths := configPaths("", reflect.TypeOf(stack.Config{}))
	if len(paths) < 40 {
		t.Fatalf("only %d settings found: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !strings.Contains(readme, "`"+p+"`") {
			t.Errorf("README.md configuration reference lacks `%s`", p)
		}
	}
	for key := range projectConfig(t) {
		if !strings.Contains(readme, "`"+key) {
			t.Errorf("README.md does not mention Pulumi.yaml key %s", key)
		}
	}
}

// changeEffects are the words of the change table's second column: what a
// change of a setting does to the running nodes.
var changeEffects = []string{"roll", "reboot", "replace", "in place", "new nodes", "none"}

// TestREADMEChangeTableCoversEverySetting: the README's "What happens on
// change" table names every setting (nodeGroups.<name>.x as
// nodeGroups.<g>.x) and says for each row whether the running nodes are
// rolled, rebooted, replaced, changed in place, left to new nodes or not
// touched.
func TestREADMEChangeTableCoversEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## What happens on change\n")
	end := strings.Index(readme, "### Node reboots\n")
	if start < 0 || end < start {
		t.Fatal("README.md has no \"What happens on change\" section before \"Node reboots\"")
	}
	section := readme[start:end]
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 3 || strings.HasPrefix(line, "| setting") || strings.HasPrefix(line, "| ---") {
			continue
		}
		rows++
		if !slices.Contains(changeEffects, strings.TrimSpace(cells[1])) {
			t.Errorf("change table row %q: effect %q is not one of %v", cells[0], cells[1], changeEffects)
		}
	}
	if rows < 20 {
		t.Fatalf("only %d rows in the change table", rows)
	}
	for _, p := range configPaths("", reflect.TypeOf(stack.Config{})) {
		key := strings.ReplaceAll(p, "<name>", "<g>")
		if !strings.Contains(section, "`"+key+"`") {
			t.Errorf("the change table does not say what a change of `%s` does", key)
		}
	}
}
