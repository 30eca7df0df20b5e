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

	"gopkg.in/yaml.v3"

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
			settings: `{"adminUser":"ops","authorizedKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g me@lab"],"timezone":"Europe/Berlin",
				"disk":"/dev/vda","swapSizeGb":0,"nfs":{"server":"nas.lan","export":"/export/k8s"},"extraModules":["extra/00-my.nix"]}`,
			want: `{"adminUser":"ops","authorizedKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g me@lab"],"timezone":"Europe/Berlin",
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
			"pkgs.coreutils",     // tr mkdir mktemp mv tail tee cat rm sleep sync dirname, and nixos-install's realpath stat install
			"pkgs.util-linux",    // lsblk wipefs blkid mkswap mount umount swapon swapoff
			"pkgs.parted",        // parted
			"pkgs.lvm2",          // pvs pvcreate vgcreate lvcreate
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
			"pkgs.lvm2",              // pvs pvresize vgs lvextend
			"pkgs.e2fsprogs",         // resize2fs dumpe2fs
			"pkgs.util-linux",        // lsblk
			"pkgs.coreutils",         // cat tr sort mktemp rm
			"pkgs.gnugrep",           // grep
			"pkgs.gnused",            // sed
			"pkgs.gawk",              // awk
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

// evalModuleRaw evaluates one module file of nixos/modules as the function
// it is, with the stand-in lib and pkgs of tests/testdata/nixeval and the
// settings file, and returns its attribute set as JSON-decoded values:
// mkIf/mkForce stay visible as {"_type": "if"|"override", ...}, packages are
// their store paths.
func evalModuleRaw(t *testing.T, module, settingsFile string) map[string]any {
	t.Helper()
	nixInstantiate := testutil.RequireTool(t, "nix-instantiate")
	names, err := json.Marshal(pkgNames(t, nixDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	expr := `{ nixosDir, evalDir, names, settingsFile, module }:
let
  lib = import (/. + "${evalDir}/lib.nix");
  pkgs = import (/. + "${evalDir}/pkgs.nix") { names = builtins.fromJSON names; };
  settings = import (/. + "${nixosDir}/lib/settings.nix") { settingsFile = /. + settingsFile; };
in
import (/. + "${nixosDir}/modules/${module}") {
  inherit lib pkgs;
  nixlabSettings = settings;
  nixlabNode.config.system.build.toplevel = "/nix/store/00000000000000000000000000000000-nixos-system-node";
  config.nix.package = "/nix/store/00000000000000000000000000000000-nix";
  config.system.build.nixos-install = "/nix/store/00000000000000000000000000000000-nixos-install";
  modulesPath = "/nixpkgs/nixos/modules";
}`
	cmd := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "-E", expr,
		"--argstr", "nixosDir", nixDir(t),
		"--argstr", "evalDir", filepath.Join(testutil.RepoRoot(t), "tests", "testdata", "nixeval"),
		"--argstr", "names", string(names),
		"--argstr", "settingsFile", settingsFile,
		"--argstr", "module", module)
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("evaluating %s: %v\n%s", module, err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
		t.Fatalf("decode %s: %v", module, err)
	}
	return got
}

// at walks a decoded module value along attribute names; nil when absent.
func nixAt(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func nixStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func hasSuffixIn(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// The node side of the contracts other parts rely on, read from the
// evaluated modules (the readiness check, the inventory, the installer).
func TestNixModuleContracts(t *testing.T) {
	withSwap := filepath.Join(nixDir(t), "settings.example.json") // swapSizeGb 2
	noSwap := writeSettings(t, `{"swapSizeGb":0,"disk":"/dev/vda"}`)

	t.Run("kubelet unit", func(t *testing.T) {
		k := evalModuleRaw(t, "kubernetes.nix", withSwap)
		unit := nixAt(k, "systemd", "services", "kubelet")
		if unit == nil {
			t.Fatal("no systemd.services.kubelet")
		}
		// A containerd restart must not restart the kubelet: pulled in and
		// ordered, never required or bound.
		for _, key := range []string{"requires", "bindsTo", "partOf", "requisite"} {
			if v := nixAt(unit, key); v != nil && hasSuffixIn(nixStrings(v), "containerd.service") {
				t.Errorf("kubelet %s = %v", key, v)
			}
		}
		for _, key := range []string{"wants", "after"} {
			if !hasSuffixIn(nixStrings(nixAt(unit, key)), "containerd.service") {
				t.Errorf("kubelet %s = %v, want containerd.service in it", key, nixAt(unit, key))
			}
		}
		args, _ := nixAt(unit, "environment", "KUBELET_CONFIG_ARGS").(string)
		if !strings.Contains(args, "--config=/var/lib/kubelet/config.yaml") || !strings.Contains(args, "--config-dir=/etc/kubernetes/kubelet.conf.d") {
			t.Errorf("KUBELET_CONFIG_ARGS = %q", args)
		}
		execStart, _ := nixAt(unit, "serviceConfig", "ExecStart").(string)
		if !strings.Contains(execStart, "$KUBELET_CONFIG_ARGS") {
			t.Errorf("ExecStart %q does not pass $KUBELET_CONFIG_ARGS", execStart)
		}
		all, _ := json.Marshal(unit)
		if strings.Contains(string(all), "fail-swap-on") {
			t.Errorf("the deprecated --fail-swap-on flag is still in the kubelet unit: %s", all)
		}
		if rules := nixStrings(nixAt(k, "systemd", "tmpfiles", "rules")); !reflect.DeepEqual(rules, []string{"d /etc/kubernetes/kubelet.conf.d 0755 root root -"}) {
			t.Errorf("tmpfiles rules %q: the drop-in directory must always exist", rules)
		}
		crictl, _ := nixAt(k, "environment", "etc", "crictl.yaml", "text").(string)
		var crictlCfg map[string]string
		if err := yaml.Unmarshal([]byte(crictl), &crictlCfg); err != nil {
			t.Fatalf("/etc/crictl.yaml %q: %v", crictl, err)
		}
		if want := map[string]string{"runtime-endpoint": "unix:///run/containerd/containerd.sock", "image-endpoint": "unix:///run/containerd/containerd.sock"}; !reflect.DeepEqual(crictlCfg, want) {
			t.Errorf("/etc/crictl.yaml = %v, want %v", crictlCfg, want)
		}
	})

	t.Run("kubelet swap drop-in", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			settings string
			want     bool
		}{{"swap", withSwap, true}, {"no swap", noSwap, false}} {
			k := evalModuleRaw(t, "kubernetes.nix", tc.settings)
			file := nixAt(k, "environment", "etc", "kubernetes/kubelet.conf.d/50-nixlab-swap.conf")
			if nixAt(file, "_type") != "if" || nixAt(file, "condition") != tc.want {
				t.Fatalf("%s: drop-in %v, want mkIf with condition %v", tc.name, file, tc.want)
			}
			if nixAt(file, "content", "mode") != "0644" {
				t.Errorf("%s: drop-in mode %v, want a copied file (0644)", tc.name, nixAt(file, "content", "mode"))
			}
			text, _ := nixAt(file, "content", "text").(string)
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatalf("drop-in %q: %v", text, err)
			}
			want := map[string]any{
				"apiVersion": "kubelet.config.k8s.io/v1beta1",
				"kind":       "KubeletConfiguration",
				"failSwapOn": false,
				"memorySwap": map[string]any{"swapBehavior": "NoSwap"},
			}
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("drop-in = %v, want %v", cfg, want)
			}
		}
	})

	t.Run("node base", func(t *testing.T) {
		b := evalModuleRaw(t, "node-base.nix", withSwap)
		if !hasSuffixIn(nixStrings(nixAt(b, "environment", "systemPackages")), "-python3") {
			t.Errorf("python3 not in environment.systemPackages (Ansible runs /run/current-system/sw/bin/python3): %v", nixAt(b, "environment", "systemPackages"))
		}
		ci := nixAt(b, "services", "cloud-init", "settings")
		for key, want := range map[string]any{"ssh_deletekeys": false, "ssh_genkeytypes": []any{}, "resize_rootfs": false} {
			if got := nixAt(ci, key); !reflect.DeepEqual(got, want) {
				t.Errorf("cloud-init %s = %v, want %v", key, got, want)
			}
		}
		if got := nixAt(ci, "growpart", "mode"); got != "off" {
			t.Errorf("cloud-init growpart.mode = %v, want off (nixlab-grow-root grows the disk)", got)
		}
		// A roll's `nix copy` logs in as the admin user, whom the daemon
		// must trust to accept the unsigned closure; root stays trusted.
		if got := nixStrings(nixAt(b, "nix", "settings", "trusted-users")); !reflect.DeepEqual(got, []string{"root", "nixos"}) {
			t.Errorf("nix.settings.trusted-users = %v, want [root nixos] (the settings' admin user)", got)
		}
		ops := evalModuleRaw(t, "node-base.nix", writeSettings(t, `{"adminUser":"ops"}`))
		if got := nixStrings(nixAt(ops, "nix", "settings", "trusted-users")); !reflect.DeepEqual(got, []string{"root", "ops"}) {
			t.Errorf("admin user ops: nix.settings.trusted-users = %v, want [root ops]", got)
		}
	})

	t.Run("storage and installer agree", func(t *testing.T) {
		st := evalModuleRaw(t, "storage.nix", noSwap)
		in := evalModuleRaw(t, "installer.nix", noSwap)
		env := nixAt(st, "systemd", "services", "nixlab-grow-root", "environment")
		if want := map[string]any{"NIXLAB_VG": "nixos-vg", "NIXLAB_LV": "root"}; !reflect.DeepEqual(env, want) {
			t.Errorf("grow-root environment %v, want %v (disk and partition come from the kernel)", env, want)
		}
		if got := nixAt(st, "fileSystems", "/", "device"); got != "/dev/nixos-vg/root" {
			t.Errorf("root device %v", got)
		}
		if got := nixAt(st, "boot", "loader", "grub", "device"); got != "/dev/vda" {
			t.Errorf("grub device %v, want the settings' disk", got)
		}
		ienv := nixAt(in, "systemd", "services", "nixlab-install", "environment")
		for key, want := range map[string]any{"NIXLAB_VG": "nixos-vg", "NIXLAB_DISK": "/dev/vda", "NIXLAB_SWAP_GB": "0", "NIXLAB_DISK_WAIT_SECONDS": "120"} {
			if got := nixAt(ienv, key); got != want {
				t.Errorf("installer %s = %v, want %v", key, got, want)
			}
		}
		// 26.05's systemd stage 1 emergency shell, turned on by the ISO
		// profile, is forced off.
		if got := nixAt(in, "boot", "initrd", "systemd", "emergencyAccess"); !reflect.DeepEqual(got, map[string]any{"_type": "override", "priority": float64(50), "content": false}) {
			t.Errorf("boot.initrd.systemd.emergencyAccess = %v, want lib.mkForce false", got)
		}
	})
}
