package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// fakePlugins is a pluginManager with canned plugins and install result.
type fakePlugins struct {
	installed  []InstalledPlugin
	listErr    error
	installErr error
	installs   []string
}

func (f *fakePlugins) ListPlugins(context.Context) ([]InstalledPlugin, error) {
	return f.installed, f.listErr
}

func (f *fakePlugins) InstallPlugin(_ context.Context, name, version string) error {
	f.installs = append(f.installs, name+" "+version)
	return f.installErr
}

var testPlugins = []Plugin{{"proxmoxve", "6.18.1"}, {"command", "1.2.1"}, {"tls", "5.2.0"}, {"kubernetes", "4.32.0"}, {"random", "4.18.0"}}

func TestEnsurePlugins(t *testing.T) {
	others := []InstalledPlugin{
		{Name: "command", Kind: "resource", Version: "1.2.1"},
		{Name: "tls", Kind: "resource", Version: "5.2.0"},
		{Name: "kubernetes", Kind: "resource", Version: "4.32.0"},
		{Name: "random", Kind: "resource", Version: "4.18.0"},
	}
	tests := []struct {
		name         string
		pm           *fakePlugins
		wantErr      string
		wantInstalls []string
	}{
		{
			name: "all installed",
			pm: &fakePlugins{installed: append([]InstalledPlugin{
				{Name: "proxmoxve", Kind: "resource", Version: "6.18.1"}, {Name: "go", Kind: "language"}}, others...)},
		},
		{
			name:         "proxmoxve missing, install fails",
			pm:           &fakePlugins{installed: others, installErr: errors.New("failed to install plugin: exit status 255\ncode: 255\nstdout: \nstderr: error: could not download plugin: dial tcp: lookup api.github.com: no such host\n")},
			wantErr:      "provider plugin proxmoxve v6.18.1 is missing and could not be installed (error: could not download plugin: dial tcp: lookup api.github.com: no such host); install it with: pulumi plugin install resource proxmoxve v6.18.1",
			wantInstalls: []string{"proxmoxve v6.18.1"},
		},
		{
			name:         "wrong version counts as missing, install works",
			pm:           &fakePlugins{installed: append([]InstalledPlugin{{Name: "proxmoxve", Kind: "resource", Version: "6.17.0"}}, others...)},
			wantInstalls: []string{"proxmoxve v6.18.1"},
		},
		{
			name:         "language plugin of the same name does not count",
			pm:           &fakePlugins{installed: append([]InstalledPlugin{{Name: "proxmoxve", Kind: "language", Version: "6.18.1"}}, others...)},
			wantInstalls: []string{"proxmoxve v6.18.1"},
		},
		{
			name:         "nothing installed",
			pm:           &fakePlugins{},
			wantInstalls: []string{"proxmoxve v6.18.1", "command v1.2.1", "tls v5.2.0", "kubernetes v4.32.0", "random v4.18.0"},
		},
		{
			name: "a stack from before Kubernetes: kubernetes and random are installed, nothing else",
			pm: &fakePlugins{installed: []InstalledPlugin{
				{Name: "proxmoxve", Kind: "resource", Version: "6.18.1"},
				{Name: "command", Kind: "resource", Version: "1.2.1"},
				{Name: "tls", Kind: "resource", Version: "5.2.0"},
				{Name: "kubernetes", Kind: "resource", Version: "4.31.0"},
			}},
			wantInstalls: []string{"kubernetes v4.32.0", "random v4.18.0"},
		},
		{
			name:    "list fails",
			pm:      &fakePlugins{listErr: errors.New("boom")},
			wantErr: "list installed provider plugins: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			err := ensurePlugins(t.Context(), tt.pm, testPlugins, &log)
			if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
				t.Fatalf("err:\n%v\nwant:\n%s", err, tt.wantErr)
			}
			if fmt.Sprint(tt.pm.installs) != fmt.Sprint(tt.wantInstalls) {
				t.Errorf("installs %v, want %v", tt.pm.installs, tt.wantInstalls)
			}
			if len(tt.wantInstalls) > 0 && !bytes.Contains(log.Bytes(), []byte("installing provider plugin "+tt.wantInstalls[0])) {
				t.Errorf("no install notice: %q", log.String())
			}
		})
	}
}

func TestRequiredPlugins(t *testing.T) {
	bi := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "github.com/muhlba91/pulumi-proxmoxve/sdk/v6", Version: "v6.20.0"},
		{Path: "github.com/pulumi/pulumi-tls/sdk/v5", Version: "v5.0.0", Replace: &debug.Module{Path: "../tls", Version: ""}},
		{Path: "github.com/pulumi/pulumi-command/sdk", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.3.0"}},
		{Path: "github.com/pulumi/pulumi-kubernetes/sdk/v4", Version: "v4.33.1"},
		{Path: "github.com/pulumi/pulumi-random/sdk/v4", Version: "(devel)"},
	}}
	want := []Plugin{{"proxmoxve", "6.20.0"}, {"command", "1.3.0"}, {"tls", "5.0.0"}, {"kubernetes", "4.33.1"}, {"random", "4.18.0"}}
	if got := requiredPlugins(bi); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requiredPlugins = %v, want %v", got, want)
	}
	if got := requiredPlugins(nil); fmt.Sprint(got) != fmt.Sprint(testPlugins) {
		t.Errorf("fallbacks = %v, want %v", got, testPlugins)
	}
	// The test binary records go.mod's versions.
	if got := buildPlugins(); fmt.Sprint(got) != fmt.Sprint(testPlugins) {
		t.Errorf("buildPlugins = %v, want go.mod's %v", got, testPlugins)
	}
}

// TestPluginSourcesMatchGoModAndSDKs: every plugin's fallback is the version
// go.mod requires for its SDK (the version a binary built from this tree
// links), and its name is the one the SDK itself declares in
// go/<package>/pulumi-plugin.json ("name", and "version" when the SDK
// records one), the plugin the engine asks for when the SDK registers a
// resource.
func TestPluginSourcesMatchGoModAndSDKs(t *testing.T) {
	goBin := testutil.RequireTool(t, "go")
	root := testutil.RepoRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]string{}
	for _, line := range strings.Split(string(gomod), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && strings.HasPrefix(fields[1], "v") {
			required[fields[0]] = fields[1]
		}
	}
	for _, src := range pluginSources {
		t.Run(src.name, func(t *testing.T) {
			v, ok := required[src.module]
			if !ok {
				t.Fatalf("go.mod does not require %s", src.module)
			}
			if v != "v"+src.fallback {
				t.Errorf("fallback %s, go.mod requires %s %s", src.fallback, src.module, v)
			}
			cmd := exec.Command(goBin, "mod", "download", "-json", src.module+"@"+v)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go mod download %s@%s: %v", src.module, v, err)
			}
			var mod struct{ Dir string }
			if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
				t.Fatalf("go mod download: %v %s", err, out)
			}
			files, _ := filepath.Glob(filepath.Join(mod.Dir, "go", "*", "pulumi-plugin.json"))
			if len(files) != 1 {
				t.Fatalf("want one go/*/pulumi-plugin.json in %s, found %v", mod.Dir, files)
			}
			raw, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Resource bool
				Name     string
				Version  string
			}
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatalf("%s: %v", files[0], err)
			}
			if !meta.Resource || meta.Name != src.name {
				t.Errorf("%s declares resource plugin %q (resource %v), nixlab installs %q", files[0], meta.Name, meta.Resource, src.name)
			}
			if meta.Version != "" && meta.Version != src.fallback {
				t.Errorf("%s declares version %s, nixlab installs %s", files[0], meta.Version, src.fallback)
			}
		})
	}
}
