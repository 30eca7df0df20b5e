package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"testing"
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

var testPlugins = []Plugin{{"proxmoxve", "6.18.1"}, {"command", "1.2.1"}, {"tls", "5.2.0"}}

func TestEnsurePlugins(t *testing.T) {
	others := []InstalledPlugin{
		{Name: "command", Kind: "resource", Version: "1.2.1"},
		{Name: "tls", Kind: "resource", Version: "5.2.0"},
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
			wantInstalls: []string{"proxmoxve v6.18.1", "command v1.2.1", "tls v5.2.0"},
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
			if len(tt.wantInstalls) > 0 && !bytes.Contains(log.Bytes(), []byte("installing provider plugin proxmoxve v6.18.1")) {
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
	}}
	want := []Plugin{{"proxmoxve", "6.20.0"}, {"command", "1.3.0"}, {"tls", "5.0.0"}}
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
