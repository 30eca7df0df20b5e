package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mode returns the permission bits of path.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestInventory(t *testing.T) {
	outs := labOutputs()
	tests := []struct {
		name     string
		args     []string // after inventory; {dir} is replaced by the test directory
		wantFile string   // relative to the test directory
		want     string
	}{
		{"ini default", []string{"--dir", "{dir}"}, "inventory.ini", outs["inventory"].Value.(string)},
		{"ini explicit", []string{"--dir", "{dir}", "--format", "ini"}, "inventory.ini", outs["inventory"].Value.(string)},
		{"yaml default", []string{"--dir", "{dir}", "--format", "yaml"}, "inventory.yaml", outs["inventoryYaml"].Value.(string)},
		{"kubespray default (not over the nixlab inventory)", []string{"--dir", "{dir}", "--format=kubespray"}, "inventory-kubespray.ini", outs["inventoryKubespray"].Value.(string)},
		{"-o nested", []string{"--dir", "{dir}", "--format", "yaml", "-o", "{dir}/a/b/hosts.yml"}, "a/b/hosts.yml", outs["inventoryYaml"].Value.(string)},
		{"--output", []string{"--dir", "{dir}", "--output", "{dir}/inv/k.ini", "--format", "kubespray"}, "inv/k.ini", outs["inventoryKubespray"].Value.(string)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h, stdout, _ := runFileCommand(t, dir, "inventory", tt.args)
			path := filepath.Join(dir, tt.wantFile)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("%s:\n%s\nwant:\n%s", tt.wantFile, got, tt.want)
			}
			if m := mode(t, path); m != 0o644 {
				t.Errorf("mode %v, want 0644", m)
			}
			if !strings.Contains(stdout, path) {
				t.Errorf("stdout does not name %s:\n%s", path, stdout)
			}
			if c := h.engine.calls; len(c) != 1 || c[0].showSecrets || c[0].dir != dir {
				t.Errorf("engine calls %+v, want one without secrets on %s", c, dir)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

func TestInventoryOverwritesWithMode0644(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &harness{engine: &fakeEngine{outputs: labOutputs()}}
	if code, _, stderr := h.run(t, "inventory", "--dir", dir); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if m := mode(t, path); m != 0o644 {
		t.Errorf("mode %v, want 0644", m)
	}
}

func TestInventoryMissingOutput(t *testing.T) {
	h := &harness{engine: &fakeEngine{outputs: map[string]Output{}}}
	code, _, stderr := h.run(t, "inventory", "--dir", t.TempDir(), "--stack", "dev")
	if code != 1 || !strings.Contains(stderr, "stack dev has no output inventory") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestSSHKey(t *testing.T) {
	tests := []struct {
		name    string
		args    []string // after ssh-key; {dir} is the test directory
		setup   func(t *testing.T, dir string)
		keyFile string // relative to the test directory
	}{
		{name: "default path from sshKeyFile", args: []string{"--dir", "{dir}"}, keyFile: ".nixlab/lab/id_ed25519"},
		{name: "--output", args: []string{"--dir", "{dir}", "--output", "{dir}/keys/k"}, keyFile: "keys/k"},
		{name: "-o", args: []string{"--dir", "{dir}", "-o", "{dir}/k"}, keyFile: "k"},
		{name: "existing 0644 file", args: []string{"--dir", "{dir}"}, keyFile: ".nixlab/lab/id_ed25519",
			setup: func(t *testing.T, dir string) {
				p := filepath.Join(dir, ".nixlab/lab/id_ed25519")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("old key\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			h, stdout, stderr := runFileCommand(t, dir, "ssh-key", tt.args)
			path := filepath.Join(dir, tt.keyFile)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != testKey {
				t.Errorf("key file holds %q", got)
			}
			if m := mode(t, path); m != 0o600 {
				t.Errorf("key mode %v, want 0600", m)
			}
			if tt.setup == nil && filepath.Dir(tt.keyFile) != "." {
				if m := mode(t, filepath.Dir(path)); m != 0o700 {
					t.Errorf("key directory mode %v, want 0700", m)
				}
			}
			if strings.Contains(stdout+stderr, "KEYMATERIAL") || strings.Contains(stdout+stderr, "PRIVATE KEY-----") {
				t.Errorf("the key was printed:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			if !strings.Contains(stdout, path) || !strings.Contains(stdout, "ansible -i inventory.ini all -m ping") {
				t.Errorf("stdout lacks the path or the hint:\n%s", stdout)
			}
			if c := h.engine.calls; len(c) != 1 || !c[0].showSecrets {
				t.Errorf("engine calls %+v, want one revealing secrets", c)
			}
		})
	}
}

func TestSSHKeyRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "id_ed25519")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	h := &harness{engine: &fakeEngine{outputs: labOutputs()}}
	code, stdout, stderr := h.run(t, "ssh-key", "--dir", dir, "-o", link)
	if code != 1 || !strings.Contains(stderr, "symlink") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(target); string(got) != "precious\n" {
		t.Errorf("symlink target changed: %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v", err)
	}
	if m := mode(t, target); m != 0o644 {
		t.Errorf("symlink target mode changed to %v", m)
	}
	if strings.Contains(stdout+stderr, "KEYMATERIAL") {
		t.Errorf("the key was printed")
	}
}

func TestSSHKeyNoKeyOutput(t *testing.T) {
	outs := labOutputs()
	delete(outs, "sshPrivateKey")
	h := &harness{engine: &fakeEngine{outputs: outs}}
	code, _, stderr := h.run(t, "ssh-key", "--dir", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "no output sshPrivateKey") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestStringOutputRefusesMaskedSecret(t *testing.T) {
	_, err := stringOutput(map[string]Output{"k": {Value: secretMask, Secret: true}}, "k", "lab")
	if err == nil || !strings.Contains(err.Error(), "did not reveal") {
		t.Fatalf("err = %v", err)
	}
}

// runFileCommand runs a file-writing command against the lab outputs, with
// {dir} in args replaced by dir, and fails the test unless it succeeds.
func runFileCommand(t *testing.T, dir, command string, args []string) (h *harness, stdout, stderr string) {
	t.Helper()
	argv := []string{command}
	for _, a := range args {
		argv = append(argv, strings.ReplaceAll(a, "{dir}", dir))
	}
	h = &harness{engine: &fakeEngine{outputs: labOutputs()}}
	code, stdout, stderr := h.run(t, argv...)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	return h, stdout, stderr
}
