package components

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nixlab/nixlab/nixos"
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

// embeddedTree returns the embedded nix sources as a map file system, for
// tests that alter one file and hash again.
func embeddedTree(t *testing.T) fstest.MapFS {
	t.Helper()
	tree := fstest.MapFS{}
	err := fs.WalkDir(nixos.Sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := nixos.Sources.ReadFile(p)
		tree[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// nixosDirFiles walks the repository's nixos/ directory on disk and returns
// every file the build needs: all of them except the Go files and the
// settings.json files (the Go side renders settings.json itself).
func nixosDirFiles(t *testing.T) []string {
	t.Helper()
	root := filepath.Join("..", "nixos")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := path.Base(rel)
		if strings.HasSuffix(name, ".go") || (!strings.Contains(rel, "/") && strings.HasPrefix(name, "settings") && strings.HasSuffix(name, ".json")) {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// Every file of the nixos/ directory is embedded and hashed: dropping one
// from the embed list, or skipping one while gathering the sources, fails.
func TestHashedTreeIsTheWholeNixOSDirectory(t *testing.T) {
	onDisk := nixosDirFiles(t)
	if len(onDisk) < 8 {
		t.Fatalf("only %d files under nixos/: %q", len(onDisk), onDisk)
	}
	var embedded []string
	for p := range embeddedTree(t) {
		embedded = append(embedded, p)
	}
	sort.Strings(embedded)
	if !slices.Equal(embedded, onDisk) {
		t.Errorf("embedded files differ from nixos/ on disk (fix the go:embed list in nixos/embed.go):\nembedded %q\non disk  %q", embedded, onDisk)
	}
	src := mustSources(t, labSettings(), nil)
	hashed := slices.DeleteFunc(src.paths(), func(p string) bool { return p == "settings.json" })
	if !slices.Equal(hashed, onDisk) {
		t.Errorf("hashed files differ from nixos/ on disk:\nhashed  %q\non disk %q", hashed, onDisk)
	}
	for _, p := range onDisk {
		disk, err := os.ReadFile(filepath.Join("..", "nixos", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(src[p], disk) {
			t.Errorf("hashed content of %s differs from the file on disk", p)
		}
	}
}

// Every relative path a Nix file names (./modules/nfs.nix, ../scripts/install.sh)
// is in the hashed tree, so the build cannot miss a file the hash skipped.
func TestHashedTreeHoldsEveryReferencedFile(t *testing.T) {
	src := mustSources(t, labSettings(), nil)
	var refs int
	for _, p := range src.paths() {
		if !strings.HasSuffix(p, ".nix") {
			continue
		}
		for _, target := range nixRefs(p, string(src[p])) {
			refs++
			if _, ok := src[target]; !ok {
				t.Errorf("%s refers to %s, which is not in the hashed tree", p, target)
			}
		}
	}
	// flake.nix names the settings file, four node modules and the
	// installer, installer.nix and storage.nix their scripts, settings.nix
	// its rules.
	if refs < 9 {
		t.Errorf("found only %d relative path references; the scan is broken", refs)
	}
}

// Changing any one file of the real embedded tree at equal length (so the
// length prefix alone cannot change the hash) changes the hash, and so does
// removing it.
func TestHashCoversEveryEmbeddedFile(t *testing.T) {
	tree := embeddedTree(t)
	base, err := newBuildSourcesFrom(tree, labSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := ContentHash(labSettings(), nil); base.hash() != want {
		t.Fatal("hash over the copied tree differs from ContentHash")
	}
	for p, f := range tree {
		if len(f.Data) == 0 {
			t.Errorf("%s is empty", p)
			continue
		}
		changed := maps.Clone(tree)
		data := bytes.Clone(f.Data)
		data[len(data)/2] ^= 0x01
		changed[p] = &fstest.MapFile{Data: data, Mode: f.Mode}
		src, err := newBuildSourcesFrom(changed, labSettings(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if src.hash() == base.hash() {
			t.Errorf("changing one byte of %s does not change the hash", p)
		}
		without := maps.Clone(tree)
		delete(without, p)
		if src, err = newBuildSourcesFrom(without, labSettings(), nil); err != nil {
			t.Fatal(err)
		}
		if src.hash() == base.hash() {
			t.Errorf("removing %s does not change the hash", p)
		}
	}
	// Moving content between files (same bytes, other layout) changes it too.
	moved := buildSources{"a": []byte("xy"), "b": []byte("")}
	other := buildSources{"a": []byte("x"), "b": []byte("y")}
	if moved.hash() == other.hash() {
		t.Error("hash does not separate file boundaries")
	}
	renamed := buildSources{"a": []byte("x"), "c": []byte("y")}
	if renamed.hash() == other.hash() {
		t.Error("hash does not cover file names")
	}
}

func TestHashFollowsImageSettings(t *testing.T) {
	base, _ := ContentHash(labSettings(), nil)
	cases := []struct {
		name   string
		mutate func(*NodeSettings)
	}{
		// Equal-length changes where a value allows one: the hash must follow
		// the content, not just the size of settings.json.
		{"nfs server", func(s *NodeSettings) { s.NFS.Server = "192.168.1.5" }},
		{"nfs export", func(s *NodeSettings) { s.NFS.Export = "/volume2/k8s-cluster-storage" }},
		{"nfs mount point", func(s *NodeSettings) { s.NFS.MountPoint = "/mnt/nfz" }},
		{"nfs options", func(s *NodeSettings) { s.NFS.Options = []string{"nfsvers=4.2", "hard"} }},
		{"nfs options order", func(s *NodeSettings) { s.NFS.Options = []string{"hard", "nfsvers=4.1"} }},
		{"no nfs", func(s *NodeSettings) { s.NFS = nil }},
		{"admin user", func(s *NodeSettings) { s.AdminUser = "nixop" }},
		{"swap", func(s *NodeSettings) { s.SwapSizeGB = 3 }},
		{"timezone", func(s *NodeSettings) { s.Timezone = "UTX" }},
		{"disk", func(s *NodeSettings) { s.Disk = "/dev/sdb" }},
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
	if err := src.render(dir, ""); err != nil {
		t.Fatal(err)
	}
	// Rendering again over an existing tree replaces it (stale files go).
	if err := os.WriteFile(filepath.Join(dir, "stale.nix"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := src.render(dir, ""); err != nil {
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

// nixPathRef matches a relative path literal in Nix code (./x, ../x), also
// inside an interpolation (${../scripts/x.sh}).
var nixPathRef = regexp.MustCompile(`(?:^|[\s(\[={])(\.\.?/[A-Za-z0-9_-][A-Za-z0-9._/-]*)`)

// nixRefs returns the flake-relative files the Nix code src (of file p)
// names by relative path, comments left out.
func nixRefs(p, src string) []string {
	var out []string
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, m := range nixPathRef.FindAllStringSubmatch(line, -1) {
			out = append(out, path.Clean(path.Join(path.Dir(p), m[1])))
		}
	}
	return out
}

// nixBinding returns the text of `<name> = <expr>;` in src, from the name
// to its closing brace, by bracket depth; "" when absent.
func nixBinding(src, name string) string {
	start := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*lib\.nixosSystem\s*\{`).FindStringIndex(src)
	if start == nil {
		return ""
	}
	depth := 0
	for i := start[1] - 1; i < len(src); i++ {
		switch src[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return src[start[0] : i+1]
			}
		}
	}
	return ""
}

// The node system never reads an installer-only file: starting from
// flake.nix without its `installer` configuration, no file reachable by
// relative path references (transitively: modules name their scripts) is in
// installerOnlyFiles. And each installer-only file is reached from the
// installer configuration, so the list is not stale.
func TestNodeSystemNeverReadsInstallerOnlyFiles(t *testing.T) {
	src := mustSources(t, labSettings(), nil)
	flake := string(src["flake.nix"])
	installer := nixBinding(flake, "installer")
	node := nixBinding(flake, "node")
	if installer == "" || node == "" {
		t.Fatal("flake.nix has no `node = lib.nixosSystem {...}` or `installer = lib.nixosSystem {...}`: the scan is broken")
	}
	reach := func(start []string) map[string]bool {
		seen := map[string]bool{}
		queue := slices.Clone(start)
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if seen[p] {
				continue
			}
			seen[p] = true
			if strings.HasSuffix(p, ".nix") {
				queue = append(queue, nixRefs(p, string(src[p]))...)
			}
		}
		return seen
	}
	nodeReach := reach(nixRefs("flake.nix", strings.Replace(flake, installer, "", 1)))
	for _, f := range installerOnlyFiles {
		if nodeReach[f] {
			t.Errorf("the node system reaches the installer-only file %s: remove it from installerOnlyFiles or stop the node using it", f)
		}
	}
	for _, want := range []string{"modules/node-base.nix", "modules/storage.nix", "scripts/grow-root.sh", "lib/rules.json"} {
		if !nodeReach[want] {
			t.Errorf("node scan does not reach %s (reached %v): the scan is broken", want, nodeReach)
		}
	}
	instReach := reach(nixRefs("flake.nix", installer))
	for _, f := range installerOnlyFiles {
		if _, ok := src[f]; !ok {
			t.Errorf("installer-only file %s is not in the sources", f)
		}
		if !instReach[f] {
			t.Errorf("installer-only file %s is not reached from the installer configuration (reached %v)", f, instReach)
		}
	}
}

// An installer-only edit changes the image hash but not the node-system
// hash; an edit of anything the node is built from changes both.
func TestNodeSystemHashFollowsOnlyNodeInputs(t *testing.T) {
	tree := embeddedTree(t)
	dir := t.TempDir()
	extra := filepath.Join(dir, "monitoring.nix")
	if err := os.WriteFile(extra, []byte("{ ... }: { }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hashes := func(tree fstest.MapFS, s NodeSettings, extra []string) (image, node string) {
		t.Helper()
		src, err := newBuildSourcesFrom(tree, s, extra)
		if err != nil {
			t.Fatal(err)
		}
		return src.hash(), src.nodeSystemHash()
	}
	baseImage, baseNode := hashes(tree, labSettings(), []string{extra})
	if wantNode, err := NodeSystemHash(labSettings(), []string{extra}); err != nil || wantNode != baseNode || len(baseNode) != 64 {
		t.Fatalf("NodeSystemHash = %q (%v), want %q", wantNode, err, baseNode)
	}
	edit := func(p string) fstest.MapFS {
		changed := maps.Clone(tree)
		data := append(bytes.Clone(tree[p].Data), []byte("\n# edited\n")...)
		changed[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return changed
	}
	for _, tc := range []struct {
		name  string
		tree  fstest.MapFS
		s     func(*NodeSettings)
		extra string
		node  bool // the node-system hash must change too
	}{
		{name: "installer module", tree: edit("modules/installer.nix"), node: false},
		{name: "install script", tree: edit("scripts/install.sh"), node: false},
		{name: "node module", tree: edit("modules/node-base.nix"), node: true},
		{name: "kubernetes module", tree: edit("modules/kubernetes.nix"), node: true},
		{name: "grow-root script", tree: edit("scripts/grow-root.sh"), node: true},
		{name: "settings helper", tree: edit("lib/settings.nix"), node: true},
		{name: "flake", tree: edit("flake.nix"), node: true},
		{name: "setting", s: func(s *NodeSettings) { s.Timezone = "Europe/Berlin" }, node: true},
		{name: "extra module", extra: "{ ... }: { services.openssh.ports = [ 2222 ]; }\n", node: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, s := tree, labSettings()
			if tc.tree != nil {
				tr = tc.tree
			}
			if tc.s != nil {
				tc.s(&s)
			}
			mod := extra
			if tc.extra != "" {
				mod = filepath.Join(t.TempDir(), "monitoring.nix")
				if err := os.WriteFile(mod, []byte(tc.extra), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			image, node := hashes(tr, s, []string{mod})
			if image == baseImage {
				t.Error("the image hash did not change")
			}
			if changed := node != baseNode; changed != tc.node {
				t.Errorf("node-system hash changed = %v, want %v", changed, tc.node)
			}
		})
	}
}

// The two hashes are domain-separated: over a tree without installer-only
// files, where both cover the same bytes, they still differ.
func TestNodeSystemHashIsDomainSeparated(t *testing.T) {
	src := buildSources{"flake.nix": []byte("{ }"), "settings.json": []byte("{}\n")}
	if src.hash() == src.nodeSystemHash() {
		t.Error("image and node-system hash agree over the same files")
	}
	full := mustSources(t, labSettings(), nil)
	if full.hash() == full.nodeSystemHash() {
		t.Error("image and node-system hash agree")
	}
}

// A rendered tree takes the flake.lock of the last build when the sources
// carry none, so every build of a state directory uses the nixpkgs the
// first one resolved; the lock enters no hash, and a committed lock wins.
func TestRenderSeedsTheLastLock(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "flake.lock")
	cases := []struct {
		name      string
		committed bool
		seed      string // "" = no seed file
		want      string // the rendered flake.lock; "" = none
	}{
		{name: "no lock anywhere", want: ""},
		{name: "the last build's lock", seed: `{"seeded":1}`, want: `{"seeded":1}`},
		{name: "a committed lock wins", committed: true, seed: `{"seeded":1}`, want: `{"committed":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_ = os.Remove(seed)
			if c.seed != "" {
				if err := os.WriteFile(seed, []byte(c.seed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := mustSources(t, labSettings(), nil)
			if c.committed {
				src["flake.lock"] = []byte(`{"committed":1}`)
			}
			before := src.hash()
			out := filepath.Join(dir, "src", strings.ReplaceAll(c.name, " ", "-"))
			if err := src.render(out, seed); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(out, "flake.lock"))
			if c.want == "" {
				if err == nil {
					t.Errorf("a flake.lock was rendered: %s", got)
				}
			} else if string(got) != c.want {
				t.Errorf("flake.lock %q (%v), want %q", got, err, c.want)
			}
			if src.hash() != before {
				t.Error("rendering changed the hash")
			}
		})
	}
}
