package tests

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/stack"
)

// hkConfig is the lab config with nixlab:proxmox.ssh changed by set.
func hkConfig(t *testing.T, set func(ssh map[string]any)) map[string]string {
	t.Helper()
	cfg := labConfig(t, nil)
	var proxmox map[string]any
	if err := json.Unmarshal([]byte(cfg["nixlab:proxmox"]), &proxmox); err != nil {
		t.Fatalf("nixlab:proxmox: %v", err)
	}
	sshCfg, _ := proxmox["ssh"].(map[string]any)
	if sshCfg == nil {
		sshCfg = map[string]any{}
		proxmox["ssh"] = sshCfg
	}
	set(sshCfg)
	b, err := json.Marshal(proxmox)
	if err != nil {
		t.Fatal(err)
	}
	cfg["nixlab:proxmox"] = string(b)
	return cfg
}

// hkScans are the registered host key scans (local commands running
// host-key.sh).
func hkScans(rec *recorder) []registration {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []registration
	for _, r := range rec.regs {
		if r.TypeToken == "command:local:Command" && strings.Contains(r.Inputs["create"].StringValue(), "'host-key'") {
			out = append(out, r)
		}
	}
	return out
}

// hkHostCommands are the remote commands that connect to the Proxmox host
// (192.168.1.5 in the lab stack), whatever step they are, with their
// connection unwrapped.
func hkHostCommands(rec *recorder) map[string]resource.PropertyMap {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := map[string]resource.PropertyMap{}
	for name, r := range rec.regs {
		if r.TypeToken != "command:remote:Command" {
			continue
		}
		conn := revealed(r.Inputs["connection"]).ObjectValue()
		if h := conn["host"]; h.IsString() && h.StringValue() == "192.168.1.5" {
			out[name] = conn
		}
	}
	return out
}

// TestHostKeyRecordedOnceAndCheckedEverywhere: without
// nixlab:proxmox.ssh.hostKey the stack records the host's key once (trust
// on first use), and every connection to the host (finalize, the address
// lookups, the upload's ssh) checks that key and waits for the record.
func TestHostKeyRecordedOnceAndCheckedEverywhere(t *testing.T) {
	rec, lab := deployLab(t, labConfig(t, nil), false)
	scans := hkScans(rec)
	if len(scans) != 1 {
		var names []string
		for _, s := range scans {
			names = append(names, s.Name)
		}
		t.Fatalf("host key scans %q, want exactly one (%s) for the whole stack", names, stack.HostKeyScanName)
	}
	scan := scans[0]
	if scan.Name != stack.HostKeyScanName || lab.HostKeyScan == nil {
		t.Errorf("scan %q (Lab.HostKeyScan %v), want %q", scan.Name, lab.HostKeyScan, stack.HostKeyScanName)
	}
	if p := resource.URN(scan.RegisterRPC.GetParent()); p != "" && p.QualifiedType() != resource.RootStackType {
		t.Errorf("scan parent %q, want the stack: its URN must not depend on a component", p)
	}
	env := scan.Inputs["environment"].ObjectValue()
	if env["NIXLAB_SSH_HOST"].StringValue() != "192.168.1.5" || env["NIXLAB_SSH_PORT"].StringValue() != "22" {
		t.Errorf("scan environment %v", env)
	}
	if got := scan.RegisterRPC.GetIgnoreChanges(); !slices.Equal(got, components.HostKeyScanIgnoreChanges()) {
		t.Errorf("scan ignoreChanges %q", got)
	}

	hosts := hkHostCommands(rec)
	for _, want := range []string{"template-finalize", "control-plane-1-address", "workers-1-address", "workers-2-address"} {
		if _, ok := hosts[want]; !ok {
			t.Errorf("%s does not connect to the Proxmox host", want)
		}
	}
	for name, conn := range hosts {
		if got := conn["hostKey"]; !got.IsString() || got.StringValue() != mockHostKey {
			t.Errorf("%s: hostKey %v, want the recorded %q", name, got, mockHostKey)
		}
		if deps := rec.get(t, name).RegisterRPC.GetDependencies(); !slices.Contains(deps, scan.URN) {
			t.Errorf("%s does not wait for %s: %q", name, scan.URN, deps)
		}
	}
	up := rec.get(t, "template-upload")
	if got := up.Inputs["environment"].ObjectValue()["NIXLAB_SSH_HOST_KEY"].StringValue(); got != mockHostKey {
		t.Errorf("upload NIXLAB_SSH_HOST_KEY %q, want %q", got, mockHostKey)
	}
	if !slices.Contains(up.RegisterRPC.GetDependencies(), scan.URN) {
		t.Error("the upload does not wait for the scan")
	}
}

// TestConfiguredHostKeyUsedEverywhere: with nixlab:proxmox.ssh.hostKey
// nothing scans, and every connection checks the configured key (reduced to
// type and key, its comment dropped).
func TestConfiguredHostKeyUsedEverywhere(t *testing.T) {
	cfg := hkConfig(t, func(s map[string]any) { s["hostKey"] = mockHostKey + " root@pve" })
	rec, lab := deployLab(t, cfg, false)
	if s := hkScans(rec); len(s) != 0 || lab.HostKeyScan != nil {
		t.Fatalf("%d host key scans with a configured key", len(s))
	}
	hosts := hkHostCommands(rec)
	if len(hosts) < 4 {
		t.Fatalf("only %d connections to the host", len(hosts))
	}
	for name, conn := range hosts {
		if got := conn["hostKey"]; !got.IsString() || got.StringValue() != mockHostKey {
			t.Errorf("%s: hostKey %v, want %q", name, got, mockHostKey)
		}
	}
	if got := rec.get(t, "template-upload").Inputs["environment"].ObjectValue()["NIXLAB_SSH_HOST_KEY"].StringValue(); got != mockHostKey {
		t.Errorf("upload NIXLAB_SSH_HOST_KEY %q", got)
	}
}

// TestConnectionsAreDeterministic: no connection names an agent socket of
// nixlab's own, with a key file or with the agent: the engine keeps a
// command's stored inputs for its ignoreChanges paths when it replaces it
// (pulumi/pulumi pkg/resource/deploy/step_generator.go, generateSteps), and
// deletes run after the program exited, so a per-process socket would be
// dead when a check runs again after a reboot. Two runs give the same
// connection for every command.
func TestConnectionsAreDeterministic(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		keyFile string
	}{{"key file", keyFile}, {"agent", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := hkConfig(t, func(s map[string]any) {
				if tc.keyFile != "" {
					s["privateKeyFile"] = tc.keyFile
				}
			})
			conns := func() map[string]string {
				rec, _ := deployLab(t, cfg, false)
				rec.mu.Lock()
				defer rec.mu.Unlock()
				out := map[string]string{}
				for name, r := range rec.regs {
					if r.TypeToken != "command:remote:Command" {
						continue
					}
					conn := revealed(r.Inputs["connection"]).ObjectValue()
					if sock := conn["agentSocketPath"]; sock.IsString() {
						t.Errorf("%s: agentSocketPath %q", name, sock.StringValue())
					}
					out[name] = fmt.Sprint(conn)
				}
				return out
			}
			first, second := conns(), conns()
			if len(first) < 5 {
				t.Fatalf("only %d remote commands", len(first))
			}
			for name, c := range first {
				if second[name] != c {
					t.Errorf("%s: connection differs between two runs", name)
				}
			}
		})
	}
}

// TestRSAHostKeyRefused: an RSA host key is refused with the fix, whether
// the config check or the deploy-time check catches it.
func TestRSAHostKeyRefused(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	cfg := hkConfig(t, func(s map[string]any) { s["hostKey"] = line })
	_, err = runMocked(t, cfg, false, stack.Program)
	if err == nil {
		t.Fatal("an RSA host key was accepted")
	}
	for _, want := range []string{components.HostKeySetting, "RSA", "ssh-keyscan -t ed25519"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), strings.Fields(line)[1]) {
		t.Error("the error repeats the key")
	}
}

// TestPreviewWithoutHostKey: a preview of a stack without a recorded key
// succeeds (the scan itself runs only on create; see
// components.TestPinProxmoxHostKey_Preview for the unknown key).
func TestPreviewWithoutHostKey(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), true)
	if len(hkScans(rec)) != 1 {
		t.Error("the preview does not show the host key scan")
	}
}
