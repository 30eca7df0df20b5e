package tests

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// nixDir is the repository's nixos/ directory.
func nixDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testutil.RepoRoot(t), "nixos")
}

func TestNixFilesParse(t *testing.T) {
	nixInstantiate := testutil.RequireTool(t, "nix-instantiate")
	var files []string
	err := filepath.WalkDir(nixDir(t), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".nix") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flake.nix", "lib/settings.nix", "modules/storage.nix", "modules/node-base.nix", "modules/nfs.nix", "modules/kubernetes.nix", "modules/installer.nix"} {
		if _, err := os.Stat(filepath.Join(nixDir(t), want)); err != nil {
			t.Errorf("missing %s: %v", want, err)
		}
	}
	for _, f := range files {
		rel, _ := filepath.Rel(nixDir(t), f)
		t.Run(rel, func(t *testing.T) {
			out, err := exec.Command(nixInstantiate, "--parse", f).CombinedOutput()
			if err != nil {
				t.Fatalf("nix-instantiate --parse %s: %v\n%s", rel, err, out)
			}
		})
	}
}

// evalSettings evaluates lib/settings.nix on the given settings file and
// returns the decoded JSON result, or the error output.
func evalSettings(t *testing.T, settingsFile string) (map[string]any, string, error) {
	t.Helper()
	nixInstantiate := testutil.RequireTool(t, "nix-instantiate")
	expr := "import " + filepath.Join(nixDir(t), "lib", "settings.nix") + " { settingsFile = " + settingsFile + "; }"
	cmd := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "-E", expr)
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
		t.Fatalf("decode %q: %v", stdout.String(), err)
	}
	return got, stderr.String(), nil
}

func writeSettings(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestNixSettingsValid(t *testing.T) {
	defaultNFSOptions := `["nfsvers=4.1","hard","rsize=1048576","wsize=1048576"]`
	tests := []struct {
		name     string
		settings string // empty: use nixos/settings.example.json
		want     string
	}{
		{
			name: "example",
			want: `{"adminUser":"nixos","authorizedKeys":[],"timezone":"UTC","disk":"/dev/sda","swapSizeGb":2,
				"nfs":{"server":"192.168.1.4","export":"/volume1/k8s-cluster-storage","mountPoint":"/mnt/nfs","options":` + defaultNFSOptions + `},
				"extraModules":[]}`,
		},
		{
			name:     "empty object gets every default",
			settings: `{}`,
			want:     `{"adminUser":"nixos","authorizedKeys":[],"timezone":"UTC","disk":"/dev/sda","swapSizeGb":2,"nfs":null,"extraModules":[]}`,
		},
		{
			name: "nfs defaults and explicit values",
			settings: `{"adminUser":"ops","authorizedKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF me@lab"],"timezone":"Europe/Berlin",
				"disk":"/dev/vda","swapSizeGb":0,"nfs":{"server":"nas.lan","export":"/export/k8s"},"extraModules":["extra/00-my.nix"]}`,
			want: `{"adminUser":"ops","authorizedKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF me@lab"],"timezone":"Europe/Berlin",
				"disk":"/dev/vda","swapSizeGb":0,"nfs":{"server":"nas.lan","export":"/export/k8s","mountPoint":"/mnt/nfs","options":` + defaultNFSOptions + `},
				"extraModules":["extra/00-my.nix"]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(nixDir(t), "settings.example.json")
			if tc.settings != "" {
				file = writeSettings(t, tc.settings)
			}
			got, stderr, err := evalSettings(t, file)
			if err != nil {
				t.Fatalf("eval failed: %v\n%s", err, stderr)
			}
			if want := decodeJSON(t, tc.want); !reflect.DeepEqual(got, want) {
				t.Errorf("settings mismatch\n got: %v\nwant: %v", got, want)
			}
		})
	}
}

func TestNixSettingsInvalid(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		wantErr  []string // substrings of the error
	}{
		{"root admin", `{"adminUser":"root"}`, []string{"adminUser", "root"}},
		{"admin not a string", `{"adminUser":42}`, []string{"adminUser", "must be a string"}},
		{"bad user name", `{"adminUser":"Bad User"}`, []string{"adminUser"}},
		{"negative swap", `{"swapSizeGb":-1}`, []string{"swapSizeGb", "negative"}},
		{"fractional swap", `{"swapSizeGb":1.5}`, []string{"swapSizeGb"}},
		{"swap as string", `{"swapSizeGb":"2"}`, []string{"swapSizeGb"}},
		{"disk outside /dev", `{"disk":"sda"}`, []string{"disk", "/dev/"}},
		{"disk with ..", `{"disk":"/dev/../etc/passwd"}`, []string{"disk", ".."}},
		{"keys not a list", `{"authorizedKeys":"ssh-ed25519 AAAA"}`, []string{"authorizedKeys", "list"}},
		{"key not a key", `{"authorizedKeys":["hello"]}`, []string{"authorizedKeys"}},
		{"unknown key", `{"adminUsr":"nixos"}`, []string{"adminUsr", "unknown key"}},
		{"nfs export relative", `{"nfs":{"server":"192.168.1.4","export":"volume1/k8s"}}`, []string{"nfs.export", "/"}},
		{"nfs mount point relative", `{"nfs":{"server":"h","export":"/e","mountPoint":"mnt/nfs"}}`, []string{"nfs.mountPoint", "absolute"}},
		{"nfs mount point root", `{"nfs":{"server":"h","export":"/e","mountPoint":"/"}}`, []string{"nfs.mountPoint"}},
		{"nfs server missing", `{"nfs":{"export":"/e"}}`, []string{"nfs.server", "required"}},
		{"nfs option with comma", `{"nfs":{"server":"h","export":"/e","options":["hard,intr"]}}`, []string{"nfs.options"}},
		{"nfs unknown key", `{"nfs":{"server":"h","export":"/e","path":"/x"}}`, []string{"nfs.path", "unknown key"}},
		{"nfs wrong type", `{"nfs":"192.168.1.4:/e"}`, []string{"nfs", "object"}},
		{"extra module absolute", `{"extraModules":["/etc/nixos/x.nix"]}`, []string{"extraModules", "relative"}},
		{"extra module escapes", `{"extraModules":["extra/../../x.nix"]}`, []string{"extraModules", ".."}},
		{"not an object", `[1,2]`, []string{"settings.json", "object"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, stderr, err := evalSettings(t, writeSettings(t, tc.settings))
			if err == nil {
				t.Fatalf("expected an error, got %v", got)
			}
			if !strings.Contains(stderr, "nixlab settings:") {
				t.Errorf("error does not come from settings.nix: %s", stderr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("error %q does not mention %q", stderr, want)
				}
			}
		})
	}
}

// The default settings.json (used by `nix flake` in the plain repo directory)
// must be valid when present.
func TestNixSettingsFilePresentParses(t *testing.T) {
	file := filepath.Join(nixDir(t), "settings.json")
	if _, err := os.Stat(file); err != nil {
		t.Skip("no nixos/settings.json")
	}
	if _, stderr, err := evalSettings(t, file); err != nil {
		t.Fatalf("settings.json does not evaluate: %v\n%s", err, stderr)
	}
}

// Cheap wiring checks that need no nixpkgs: pin and stateVersion agree, the
// flake reads settings through lib/settings.nix and imports extraModules.
func TestNixFlakeWiring(t *testing.T) {
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(nixDir(t), rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	flake := read("flake.nix")
	for _, want := range []string{
		`"github:NixOS/nixpkgs/nixos-26.05"`,
		`import ./lib/settings.nix { settingsFile = ./settings.json; }`,
		`./. + "/${p}"`,
		"nixosConfigurations",
	} {
		if !strings.Contains(flake, want) {
			t.Errorf("flake.nix lacks %s", want)
		}
	}
	if base := read("modules/node-base.nix"); !strings.Contains(base, `system.stateVersion = "26.05";`) {
		t.Error(`node-base.nix must set system.stateVersion = "26.05" to match the pinned branch`)
	}
	inst := read("modules/installer.nix")
	for _, want := range []string{"installation-cd-minimal.nix", `image.baseName = lib.mkForce "nixlab-installer"`, "isoImage.storeContents", "nixlab-install", "journal+console", "NIXLAB_SYSTEM"} {
		if !strings.Contains(inst, want) {
			t.Errorf("installer.nix lacks %s", want)
		}
	}
}

// servicePath returns the text of the `path = [ ... ];` list of the named
// systemd service in a module (no nixpkgs needed: a text check).
func servicePath(t *testing.T, module, service string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nixDir(t), module))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, "systemd.services."+service+" = {")
	if i < 0 {
		t.Fatalf("%s defines no systemd.services.%s", module, service)
	}
	rest := src[i:]
	j := strings.Index(rest, "path = [")
	if j < 0 {
		t.Fatalf("systemd.services.%s in %s has no path", service, module)
	}
	rest = rest[j:]
	k := strings.Index(rest, "];")
	if k < 0 {
		t.Fatalf("unterminated path of systemd.services.%s in %s", service, module)
	}
	return rest[:k]
}

// Systemd units get a minimal PATH: every tool the installer and grow-root
// scripts run must come from their unit's path (attribute names as in
// nixpkgs' sources).
func TestNixServicePaths(t *testing.T) {
	for _, tc := range []struct {
		module, service string
		want            []string
	}{
		{"modules/installer.nix", "nixlab-install", []string{
			"pkgs.coreutils",     // tr mkdir mktemp mv tail tee seq sleep sync, and nixos-install's realpath stat install
			"pkgs.util-linux",    // wipefs lsblk mkswap mount umount swapon swapoff
			"pkgs.parted",        // parted
			"pkgs.lvm2",          // pvcreate vgcreate lvcreate vgs
			"pkgs.e2fsprogs",     // mkfs.ext4
			"pkgs.diffutils",     // cmp
			"pkgs.gnugrep",       // grep
			"pkgs.gnused",        // sed
			"pkgs.gawk",          // awk
			"pkgs.systemd",       // udevadm systemctl
			"config.nix.package", // nix-env, run by nixos-install from PATH
			"config.system.build.nixos-install",
		}},
		{"modules/storage.nix", "nixlab-grow-root", []string{
			"pkgs.cloud-utils.guest", // growpart
			"pkgs.lvm2",              // pvresize vgs lvextend
			"pkgs.e2fsprogs",         // resize2fs
			"pkgs.coreutils",         // tr
		}},
	} {
		path := servicePath(t, tc.module, tc.service)
		for _, want := range tc.want {
			if !strings.Contains(path, want) {
				t.Errorf("%s: systemd.services.%s.path lacks %s:\n%s", tc.module, tc.service, want, path)
			}
		}
	}
}
