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
