package components

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func labSettings() NodeSettings {
	return NodeSettings{
		AdminUser:  "nixos",
		Timezone:   "UTC",
		Disk:       DefaultDisk,
		SwapSizeGB: 2,
		NFS: &NFSSettings{
			Server:     "192.168.1.4",
			Export:     "/volume1/k8s-cluster-storage",
			MountPoint: "/mnt/nfs",
			Options:    []string{"nfsvers=4.1", "hard"},
		},
	}
}

func mustSources(t *testing.T, s NodeSettings, extra []string) buildSources {
	t.Helper()
	src, err := newBuildSources(s, extra)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestHashIsStable(t *testing.T) {
	first, err := ContentHash(labSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 64 {
		t.Fatalf("hash %q is not a hex SHA-256", first)
	}
	// Map iteration order differs from run to run; the hash must not.
	for i := 0; i < 20; i++ {
		if got, _ := ContentHash(labSettings(), nil); got != first {
			t.Fatalf("hash changed between runs: %s vs %s", got, first)
		}
	}
}

func TestHashCoversEveryNixFile(t *testing.T) {
	src := mustSources(t, labSettings(), nil)
	base := src.hash()
	var nixFiles int
	for _, p := range src.paths() {
		if strings.HasSuffix(p, ".nix") {
			nixFiles++
		}
		changed := buildSources{}
		for k, v := range src {
			changed[k] = v
		}
		changed[p] = append(append([]byte{}, src[p]...), '\n')
		if changed.hash() == base {
			t.Errorf("changing %s does not change the hash", p)
		}
	}
	if nixFiles < 6 {
		t.Fatalf("only %d .nix files embedded; the flake, settings reader and modules must all be there", nixFiles)
	}
	// Moving content between files (same bytes, other layout) changes it too.
	moved := buildSources{"a": []byte("xy"), "b": []byte("")}
	other := buildSources{"a": []byte("x"), "b": []byte("y")}
	if moved.hash() == other.hash() {
		t.Error("hash does not separate file boundaries")
	}
}

func TestHashFollowsImageSettings(t *testing.T) {
	base, _ := ContentHash(labSettings(), nil)
	cases := []struct {
		name   string
		mutate func(*NodeSettings)
	}{
		{"nfs server", func(s *NodeSettings) { s.NFS.Server = "192.168.1.44" }},
		{"nfs export", func(s *NodeSettings) { s.NFS.Export = "/volume2/k8s" }},
		{"nfs mount point", func(s *NodeSettings) { s.NFS.MountPoint = "/srv/nfs" }},
		{"nfs options", func(s *NodeSettings) { s.NFS.Options = []string{"nfsvers=4.2"} }},
		{"no nfs", func(s *NodeSettings) { s.NFS = nil }},
		{"admin user", func(s *NodeSettings) { s.AdminUser = "ops" }},
		{"swap", func(s *NodeSettings) { s.SwapSizeGB = 0 }},
		{"timezone", func(s *NodeSettings) { s.Timezone = "Europe/Berlin" }},
		{"keys", func(s *NodeSettings) { s.AuthorizedKeys = []string{"ssh-ed25519 AAAA x"} }},
	}
	for _, c := range cases {
		s := labSettings()
		nfs := *s.NFS
		s.NFS = &nfs
		c.mutate(&s)
		if got, _ := ContentHash(s, nil); got == base {
			t.Errorf("%s change does not change the hash", c.name)
		}
	}
}

func TestHashFollowsExtraModules(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "monitoring.nix")
	write := func(content string) {
		if err := os.WriteFile(mod, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("{ ... }: { services.prometheus.exporters.node.enable = true; }\n")
	without, _ := ContentHash(labSettings(), nil)
	with, err := ContentHash(labSettings(), []string{mod})
	if err != nil {
		t.Fatal(err)
	}
	write("{ ... }: { }\n")
	edited, _ := ContentHash(labSettings(), []string{mod})
	if with == without || edited == with {
		t.Errorf("extra module presence or content not in the hash: %s %s %s", without, with, edited)
	}
	src := mustSources(t, labSettings(), []string{mod})
	if _, ok := src["extra/00-monitoring.nix"]; !ok {
		t.Errorf("extra module not copied into the flake tree: %v", src.paths())
	}
	if !strings.Contains(string(src["settings.json"]), `"extra/00-monitoring.nix"`) {
		t.Errorf("settings.json does not list the extra module:\n%s", src["settings.json"])
	}
	if _, err := ContentHash(labSettings(), []string{filepath.Join(dir, "missing.nix")}); err == nil {
		t.Error("a missing extra module was accepted")
	}
}

func TestRenderWritesTheHashedTree(t *testing.T) {
	src := mustSources(t, labSettings(), nil)
	dir := filepath.Join(t.TempDir(), "src", "x")
	if err := src.render(dir); err != nil {
		t.Fatal(err)
	}
	// Rendering again over an existing tree replaces it (stale files go).
	if err := os.WriteFile(filepath.Join(dir, "stale.nix"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := src.render(dir); err != nil {
		t.Fatal(err)
	}
	back := buildSources{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		back[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if back.hash() != src.hash() {
		t.Fatalf("rendered tree differs from the hashed one: %v vs %v", back.paths(), src.paths())
	}
	if st, err := os.Stat(filepath.Join(dir, "scripts", "install.sh")); err != nil || st.Mode()&0o100 == 0 {
		t.Errorf("install.sh not rendered executable (%v)", err)
	}
}

func TestPrebuiltISOHash(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.iso"), filepath.Join(dir, "b.iso")
	_ = os.WriteFile(a, []byte("iso one"), 0o644)
	_ = os.WriteFile(b, []byte("iso two"), 0o644)
	ha, err := PrebuiltISOHash(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := PrebuiltISOHash(b)
	ha2, _ := PrebuiltISOHash(a)
	if ha == hb || ha != ha2 || len(ha) != 64 {
		t.Errorf("prebuilt hashes: %s %s %s", ha, hb, ha2)
	}
	if _, err := PrebuiltISOHash(filepath.Join(dir, "none.iso")); err == nil {
		t.Error("missing ISO accepted")
	}
}
