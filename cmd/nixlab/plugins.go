package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// Plugin is a Pulumi resource provider plugin the stack program needs.
type Plugin struct {
	// Name is the plugin name as `pulumi plugin install resource` takes it.
	Name string
	// Version is the plugin version without the leading "v", e.g. "6.18.1".
	Version string
}

// pluginSource ties a required plugin to the Go SDK module that registers its
// resources, so the plugin version is the SDK version compiled into nixlab.
type pluginSource struct {
	name     string
	module   string
	fallback string
}

// pluginSources are the providers stack.Program uses. name is the "name" in
// the SDK's go/<package>/pulumi-plugin.json (e.g. pulumi-kubernetes
// sdk/v4@v4.32.0 go/kubernetes/pulumi-plugin.json: "kubernetes"; pulumi-random
// sdk/v4@v4.18.0 go/random/pulumi-plugin.json: "random"), the plugin the
// engine loads for the SDK's resources; fallback is go.mod's version.
// kubernetes serves the KubernetesCluster add-ons (helm/v3.Release,
// storage/v1.StorageClass) and random its bootstrap token and certificate
// key.
var pluginSources = []pluginSource{
	{name: "proxmoxve", module: "github.com/muhlba91/pulumi-proxmoxve/sdk/v6", fallback: "6.18.1"},
	{name: "command", module: "github.com/pulumi/pulumi-command/sdk", fallback: "1.2.1"},
	{name: "tls", module: "github.com/pulumi/pulumi-tls/sdk/v5", fallback: "5.2.0"},
	{name: "kubernetes", module: "github.com/pulumi/pulumi-kubernetes/sdk/v4", fallback: "4.32.0"},
	{name: "random", module: "github.com/pulumi/pulumi-random/sdk/v4", fallback: "4.18.0"},
}

// requiredPlugins returns the provider plugins with the versions of their Go
// SDKs in bi (from [debug.ReadBuildInfo]); a module missing from bi (or a nil
// bi) gets the fallback version, the one go.mod pins.
func requiredPlugins(bi *debug.BuildInfo) []Plugin {
	versions := map[string]string{}
	if bi != nil {
		for _, dep := range bi.Deps {
			v := dep.Version
			if dep.Replace != nil && dep.Replace.Version != "" {
				v = dep.Replace.Version
			}
			versions[dep.Path] = v
		}
	}
	plugins := make([]Plugin, 0, len(pluginSources))
	for _, src := range pluginSources {
		v := strings.TrimPrefix(versions[src.module], "v")
		if v == "" || v == "(devel)" {
			v = src.fallback
		}
		plugins = append(plugins, Plugin{Name: src.name, Version: v})
	}
	return plugins
}

// buildPlugins is requiredPlugins for the running binary.
func buildPlugins() []Plugin {
	bi, _ := debug.ReadBuildInfo()
	return requiredPlugins(bi)
}

// InstalledPlugin is one entry of `pulumi plugin ls`.
type InstalledPlugin struct {
	Name    string
	Kind    string // "resource", "language", ...
	Version string // without the leading "v"; empty when the plugin has none
}

// pluginManager lists and installs provider plugins; the Automation API
// workspace is one (see [workspacePlugins]), tests use fakes.
type pluginManager interface {
	ListPlugins(ctx context.Context) ([]InstalledPlugin, error)
	InstallPlugin(ctx context.Context, name, version string) error
}

// ensurePlugins makes sure every required plugin is installed: the inline Go
// program reports no plugins to the engine, so the engine would not install
// them on its own and would fail mid-deployment. A missing plugin is
// installed; when that fails the error says exactly which plugin and how to
// install it by hand. Notices go to log.
func ensurePlugins(ctx context.Context, pm pluginManager, required []Plugin, log io.Writer) error {
	installed, err := pm.ListPlugins(ctx)
	if err != nil {
		return fmt.Errorf("list installed provider plugins: %w", err)
	}
	for _, p := range required {
		if hasPlugin(installed, p) {
			continue
		}
		fmt.Fprintf(log, "nixlab: installing provider plugin %s v%s\n", p.Name, p.Version)
		if err := pm.InstallPlugin(ctx, p.Name, "v"+p.Version); err != nil {
			return fmt.Errorf("provider plugin %s v%s is missing and could not be installed (%s); install it with: pulumi plugin install resource %s v%s",
				p.Name, p.Version, oneLine(engineMessage(err)), p.Name, p.Version)
		}
	}
	return nil
}

// hasPlugin reports whether installed holds the resource plugin p in exactly
// its version (the engine loads only an exact version match, or a plugin
// without a version).
func hasPlugin(installed []InstalledPlugin, p Plugin) bool {
	for _, ip := range installed {
		if ip.Name != p.Name || (ip.Kind != "" && ip.Kind != "resource") {
			continue
		}
		if ip.Version == "" || strings.TrimPrefix(ip.Version, "v") == p.Version {
			return true
		}
	}
	return false
}

// oneLine joins the lines of s with "; " so a multi-line engine message fits
// in the parenthesis of the missing-plugin error.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// workspacePlugins adapts an Automation API workspace to pluginManager.
type workspacePlugins struct{ ws auto.Workspace }

func (w workspacePlugins) ListPlugins(ctx context.Context) ([]InstalledPlugin, error) {
	infos, err := w.ws.ListPlugins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]InstalledPlugin, 0, len(infos))
	for _, info := range infos {
		ip := InstalledPlugin{Name: info.Name, Kind: string(info.Kind)}
		if info.Version != nil {
			ip.Version = info.Version.String()
		}
		out = append(out, ip)
	}
	return out, nil
}

func (w workspacePlugins) InstallPlugin(ctx context.Context, name, version string) error {
	return w.ws.InstallPlugin(ctx, name, version)
}
