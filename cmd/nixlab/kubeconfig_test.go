package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// testKubeconfig is shaped like kubeadm's admin.conf; the key data is the
// marker a leak test looks for.
const testKubeconfig = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0FEQVRB
    server: https://10.0.0.10:6443
  name: nixlab
contexts:
- context:
    cluster: nixlab
    user: kubernetes-admin
  name: kubernetes-admin@nixlab
current-context: kubernetes-admin@nixlab
kind: Config
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVERBVEE=
    client-key-data: S3CR3TKUBEKEY
`

// kubeOutputs are labOutputs with the kubeconfig.
func kubeOutputs() map[string]Output {
	outs := labOutputs()
	outs[kubeconfigOutput] = Output{Value: testKubeconfig, Secret: true}
	return outs
}

// leaks reports whether s shows any part of the kubeconfig's credentials.
func leaks(s string) bool {
	return strings.Contains(s, "S3CR3TKUBEKEY") || strings.Contains(s, "Q0VSVERBVEE=") || strings.Contains(s, "client-key-data")
}

// writeStackFile writes Pulumi.<stack>.yaml into dir.
func writeStackFile(t *testing.T, dir, stack, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withUmask sets the process umask for the test (and restores it).
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func TestKubeconfig(t *testing.T) {
	tests := []struct {
		name   string
		args   []string // after kubeconfig; {dir} is the test directory
		setup  func(t *testing.T, dir string)
		file   string // relative to the test directory
		newDir string // a directory the command must create with mode 0700 ("" none)
	}{
		{name: "default: .nixlab/<stack>", args: []string{"--dir", "{dir}"}, file: ".nixlab/lab/kubeconfig", newDir: ".nixlab/lab"},
		{name: "default with -s", args: []string{"--dir", "{dir}", "-s", "dev"}, file: ".nixlab/dev/kubeconfig", newDir: ".nixlab/dev"},
		{name: "default honours a relative nixlab:stateDir", args: []string{"--dir", "{dir}"},
			setup: func(t *testing.T, dir string) {
				writeStackFile(t, dir, "lab", "config:\n  nixlab:stateDir: state\n  nixlab:kubernetes:\n    enabled: true\n")
			}, file: "state/lab/kubeconfig", newDir: "state/lab"},
		{name: "default honours an absolute nixlab:stateDir", args: []string{"--dir", "{dir}", "--stack", "dev"},
			setup: func(t *testing.T, dir string) {
				writeStackFile(t, dir, "dev", "config:\n  nixlab:stateDir: "+filepath.Join(dir, "abs")+"\n")
			}, file: "abs/dev/kubeconfig", newDir: "abs/dev"},
		{name: "default ignores a stateDir of the wrong type", args: []string{"--dir", "{dir}"},
			setup: func(t *testing.T, dir string) {
				writeStackFile(t, dir, "lab", "config:\n  nixlab:stateDir: [a, b]\n")
			}, file: ".nixlab/lab/kubeconfig"},
		{name: "-o", args: []string{"--dir", "{dir}", "-o", "{dir}/k/config"}, file: "k/config", newDir: "k"},
		{name: "--output in an existing directory", args: []string{"--dir", "{dir}", "--output", "{dir}/config"}, file: "config"},
		{name: "existing 0644 file gets 0600", args: []string{"--dir", "{dir}", "-o", "{dir}/config"}, file: "config",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "config"), []byte("old\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "existing 0666 file in the default place", args: []string{"--dir", "{dir}"}, file: ".nixlab/lab/kubeconfig",
			setup: func(t *testing.T, dir string) {
				p := filepath.Join(dir, ".nixlab/lab/kubeconfig")
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("a much longer old kubeconfig than the new one\n"+testKubeconfig), 0o666); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, 0o666); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withUmask(t, 0) // the most permissive: modes must not depend on it
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			outs := kubeOutputs()
			argv := []string{"kubeconfig"}
			for _, a := range tt.args {
				argv = append(argv, strings.ReplaceAll(a, "{dir}", dir))
			}
			h := &harness{engine: &fakeEngine{outputs: outs}}
			code, stdout, stderr := h.run(t, argv...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			path := filepath.Join(dir, tt.file)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != testKubeconfig {
				t.Errorf("file holds %q, want the output exactly", got)
			}
			if m := mode(t, path); m != 0o600 {
				t.Errorf("mode %v, want 0600", m)
			}
			if tt.newDir != "" {
				if m := mode(t, filepath.Join(dir, tt.newDir)); m != 0o700 {
					t.Errorf("created directory %s has mode %v, want 0700", tt.newDir, m)
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file left behind: %s", e.Name())
				}
			}
			if leaks(stdout + stderr) {
				t.Errorf("the kubeconfig was printed:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			wantOut := "wrote the kubeconfig of stack " + h.engine.calls[0].stack + " to " + path + " (mode 0600)\n" +
				"use it: export KUBECONFIG=" + path + "; kubectl get nodes\n"
			if stdout != wantOut || stderr != "" {
				t.Errorf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", stdout, wantOut, stderr)
			}
			if c := h.engine.calls; len(c) != 1 || !c[0].showSecrets || c[0].dir != dir {
				t.Errorf("engine calls %+v, want one revealing secrets on %s", c, dir)
			}
		})
	}
}

// TestKubeconfigRefusesSymlink: a symlink at the target is neither followed
// nor replaced, whether it points at a file or nowhere.
func TestKubeconfigRefusesSymlink(t *testing.T) {
	for _, dangling := range []bool{false, true} {
		name := "to a file"
		if dangling {
			name = "dangling"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "elsewhere")
			if !dangling {
				if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(dir, ".nixlab", "lab", "kubeconfig")
			if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			h := &harness{engine: &fakeEngine{outputs: kubeOutputs()}}
			code, stdout, stderr := h.run(t, "kubeconfig", "--dir", dir)
			want := "nixlab kubeconfig: refusing to write " + link + ": it is a symlink"
			if code != 1 || !strings.HasPrefix(stderr, want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant prefix %q", code, stderr, want)
			}
			if dangling {
				if _, err := os.Lstat(target); err == nil {
					t.Error("the dangling symlink's target was created")
				}
			} else if got, _ := os.ReadFile(target); string(got) != "precious\n" || mode(t, target) != 0o644 {
				t.Errorf("symlink target changed: %q %v", got, mode(t, target))
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("symlink replaced: %v", err)
			}
			if leaks(stdout+stderr) || stdout != "" {
				t.Errorf("stdout %q, stderr %q", stdout, stderr)
			}
		})
	}
}

// TestKubeconfigMissingOrBad: each reason the kubeconfig cannot be written
// gets its own message with the command to run, and none shows the value.
func TestKubeconfigMissingOrBad(t *testing.T) {
	withKube := func(o Output) map[string]Output {
		outs := labOutputs()
		outs[kubeconfigOutput] = o
		return outs
	}
	tests := []struct {
		name      string
		outs      map[string]Output
		stackFile string // Pulumi.lab.yaml content ("" none)
		want      []string
	}{
		{name: "never deployed", outs: map[string]Output{},
			want: []string{"nixlab kubeconfig: stack lab has no outputs yet: deploy it with `nixlab up --stack lab`"}},
		{name: "Kubernetes turned off", outs: labOutputs(),
			stackFile: "config:\n  nixlab:adminUser: nixos\n  nixlab:kubernetes:\n    enabled: false\n    cni: flannel\n",
			want: []string{"stack lab has no kubeconfig: Kubernetes is turned off in ", "Pulumi.lab.yaml (nixlab:kubernetes.enabled: false); set it to true",
				"run `nixlab up --stack lab`"}},
		{name: "enabled but up did not get there", outs: labOutputs(),
			stackFile: "config:\n  nixlab:kubernetes:\n    enabled: true\n",
			want:      []string{"stack lab has no output kubeconfig: the Kubernetes cluster was not deployed yet", "run `nixlab up --stack lab`"}},
		{name: "no stack file, no kubernetes key", outs: labOutputs(),
			want: []string{"stack lab has no output kubeconfig: the Kubernetes cluster was not deployed yet"}},
		{name: "malformed stack file", outs: labOutputs(), stackFile: "config: [\n",
			want: []string{"stack lab has no output kubeconfig: the Kubernetes cluster was not deployed yet"}},
		{name: "not a string", outs: withKube(Output{Value: map[string]any{"client-key-data": "S3CR3TKUBEKEY"}, Secret: true}),
			want: []string{"stack output kubeconfig is a map[string]interface {}, not a string; run `nixlab up --stack lab`"}},
		{name: "empty", outs: withKube(Output{Value: "", Secret: true}),
			want: []string{"stack output kubeconfig is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.stackFile != "" {
				if err := os.WriteFile(filepath.Join(dir, "Pulumi.lab.yaml"), []byte(tt.stackFile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			h := &harness{engine: &fakeEngine{outputs: tt.outs}}
			code, stdout, stderr := h.run(t, "kubeconfig", "--dir", dir)
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if leaks(stderr) {
				t.Errorf("the value was printed:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, ".nixlab")); err == nil {
				t.Error("a state directory was created for nothing")
			}
		})
	}
}

// TestKubeconfigNotSecretWarns: a kubeconfig output that is not a Pulumi
// secret is still written, with a warning that the state holds it in
// plain text.
func TestKubeconfigNotSecretWarns(t *testing.T) {
	outs := labOutputs()
	outs[kubeconfigOutput] = Output{Value: testKubeconfig}
	dir := t.TempDir()
	h := &harness{engine: &fakeEngine{outputs: outs}}
	code, stdout, stderr := h.run(t, "kubeconfig", "--dir", dir, "-o", filepath.Join(dir, "kc"))
	if code != 0 || !strings.Contains(stderr, "warning: the stack output kubeconfig is not a Pulumi secret") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if leaks(stdout + stderr) {
		t.Error("the kubeconfig was printed")
	}
}

// TestKubeconfigHintQuotesPath: a path with spaces or quotes is quoted in
// the export line so it can be pasted into a shell.
func TestKubeconfigHintQuotesPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my lab's dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{engine: &fakeEngine{outputs: kubeOutputs()}}
	code, stdout, stderr := h.run(t, "kubeconfig", "--dir", dir, "-o", filepath.Join(dir, "kc"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	want := "use it: export KUBECONFIG='" + strings.ReplaceAll(filepath.Join(dir, "kc"), "'", `'\''`) + "'; kubectl get nodes\n"
	if !strings.HasSuffix(stdout, want) {
		t.Errorf("stdout:\n%s\nwant suffix:\n%s", stdout, want)
	}
}

// TestKubeconfigRelativeOutputHint: the export line holds an absolute
// path, so it works from any directory.
func TestKubeconfigRelativeOutputHint(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("Pulumi.yaml", []byte("name: nixlab\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{engine: &fakeEngine{outputs: kubeOutputs()}}
	code, stdout, stderr := h.run(t, "kubeconfig", "-o", "kc")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	abs, _ := filepath.Abs("kc")
	if !strings.Contains(stdout, " to kc (mode 0600)\n") || !strings.Contains(stdout, "export KUBECONFIG="+abs+";") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

// TestKubeconfigFakeCLI runs `nixlab kubeconfig` on the real Automation API
// engine against the fake Pulumi CLI: the secret output is revealed by the
// engine (stack output --show-secrets), written exactly with mode 0600
// under a permissive umask, and never printed.
func TestKubeconfigFakeCLI(t *testing.T) {
	withUmask(t, 0)
	dir, log := fakeCLI(t)
	raw, err := json.Marshal(testKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_KUBECONFIG_JSON", string(raw))
	code, stdout, stderr := runReal(t, "kubeconfig", "--dir", dir, "-s", "dev")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	path := filepath.Join(dir, ".nixlab", "dev", "kubeconfig")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != testKubeconfig {
		t.Errorf("file %q, want %q", got, testKubeconfig)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
	for _, d := range []string{filepath.Join(dir, ".nixlab"), filepath.Dir(path)} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s mode %v, want 0700", d, m)
		}
	}
	if leaks(stdout+stderr) || stderr != "" {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "export KUBECONFIG="+path+"; kubectl get nodes") {
		t.Errorf("no hint:\n%s", stdout)
	}
	calls := readLog(t, log)
	if !strings.Contains(calls, "stack select --stack dev") || !strings.Contains(calls, "stack output --json --show-secrets --stack dev") {
		t.Errorf("calls:\n%s", calls)
	}
	if strings.Contains(calls, "stack init") || strings.Contains(calls, "plugin") {
		t.Errorf("kubeconfig created the stack or checked plugins:\n%s", calls)
	}

	// A symlink planted at the target is refused, and its target untouched.
	link, target := filepath.Join(dir, "kc-link"), filepath.Join(dir, "kc-target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runReal(t, "kubeconfig", "--dir", dir, "-s", "dev", "-o", link)
	if code != 1 || !strings.Contains(stderr, "it is a symlink") || leaks(stdout+stderr) {
		t.Errorf("symlink: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if got, _ := os.ReadFile(target); string(got) != "precious\n" {
		t.Errorf("symlink target changed: %q", got)
	}

	// The same stack without a kubeconfig output.
	t.Setenv("FAKE_KUBECONFIG_JSON", "")
	code, stdout, stderr = runReal(t, "kubeconfig", "--dir", dir, "-s", "dev", "-o", filepath.Join(dir, "other"))
	if code != 1 || stdout != "" || !strings.Contains(stderr, "stack dev has no output kubeconfig") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestUpHintsKubeconfig: a successful `up` ends with the kubeconfig command
// for its stack and directory, unless the stack file turns Kubernetes off.
func TestUpHintsKubeconfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		args      []string
		stackFile string // Pulumi.<stack>.yaml content ("" none)
		want      string // stdout
	}{
		{name: "defaults", args: []string{"up"},
			want: "next: nixlab kubeconfig writes the cluster's kubeconfig (mode 0600), then kubectl get nodes\n"},
		{name: "other stack and directory", args: []string{"up", "-s", "dev", "--dir", dir},
			want: "next: nixlab kubeconfig --stack dev --dir " + dir + " writes the cluster's kubeconfig (mode 0600), then kubectl get nodes\n"},
		{name: "enabled explicitly", args: []string{"up", "--dir", dir}, stackFile: "config:\n  nixlab:kubernetes:\n    enabled: true\n",
			want: "next: nixlab kubeconfig --dir " + dir + " writes the cluster's kubeconfig (mode 0600), then kubectl get nodes\n"},
		{name: "Kubernetes turned off", args: []string{"up", "--dir", dir}, stackFile: "config:\n  nixlab:kubernetes:\n    enabled: false\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(filepath.Join(dir, "Pulumi.lab.yaml"))
			if tt.stackFile != "" {
				writeStackFile(t, dir, "lab", tt.stackFile)
			}
			h := &harness{}
			code, stdout, stderr := h.run(t, tt.args...)
			if code != 0 || stdout != tt.want {
				t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, tt.want, stderr)
			}
		})
	}
}
