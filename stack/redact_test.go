package stack

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// keyBody is a deterministic stand-in for an OpenSSH private key body
// pasted as one line without its BEGIN/END lines (312 characters, as in
// the report): base64 of "openssh-key-v1\0" and pseudo-random bytes.
func keyBody(n int) string {
	raw := []byte("openssh-key-v1\x00")
	seed := sha256.Sum256([]byte("nixlab"))
	for len(raw) < n*3/4 {
		raw = append(raw, seed[:]...)
		seed = sha256.Sum256(seed[:])
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

// pemBody is a base64 body line without the openssh prefix (as in a PEM
// RSA key, 64 characters).
func pemBody() string {
	seed := sha256.Sum256([]byte("rsa"))
	more := sha256.Sum256(seed[:])
	return base64.StdEncoding.EncodeToString(append(seed[:], more[:]...))[:64]
}

func TestLooksSecret(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{testToken, true},
		{"root@pam!nixlab=" + "0f1e2d3c", true},
		{"x!y=z", true},
		{keyBody(312), true},
		{pemBody(), true},
		{"-----BEGIN OPENSSH PRIVATE KEY----- " + keyBody(70), true},
		{"https://root:hunter2@192.168.1.5:8006/", true},
		{"https://root@pam@192.168.1.5:8006/", true},
		{"b3BlbnNzaC1rZXktdjEAAAAA", true},
		// Not secrets: paths, names, addresses, URLs without user info.
		{"/volume1/k8s-cluster-storage", false},
		{"/home/user/.ssh/id_ed25519", false},
		{"/mnt/nfs/Kubernetes/Cluster/Storage/Volume01/Data/Archive", false},
		{"result/iso/nixos-24.11.20241231.abcdef0-x86_64-linux.iso", false},
		{"https://192.168.1.5:8006/", false},
		{"Europe/Berlin", false},
		{"local-lvm", false},
		{"pve", false},
		{"root@pam", false},
		{"nfsvers=4.1", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef", false},
		{"/tmp/TestStackFilesReadAlikeByPlanAndUpstate_dir_is_a_file3491962045/001/Pulumi.t.yaml", false},
		{"/srv/ISO/NixOS-K8s-Installer-2024-11-Build42/x86_64/nixlab-installer", false},
	} {
		if got := LooksSecret(tt.s); got != tt.want {
			t.Errorf("LooksSecret(%.50q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// A token or a key body pasted into any string setting (and list item) is
// refused without being repeated: each error names the key and hides the
// value.
func TestSecretsNeverEchoedInAnySetting(t *testing.T) {
	paths := stringPaths("", reflect.TypeOf(Config{}))
	if len(paths) < 20 {
		t.Fatalf("only %d string settings found", len(paths))
	}
	secrets := map[string]string{
		"token":     "root@pam!nixlab=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		"key body":  keyBody(312),
		"pem body":  pemBody(),
		"pem block": "-----BEGIN OPENSSH PRIVATE KEY-----\n" + keyBody(70) + "\n-----END OPENSSH PRIVATE KEY-----",
		"userinfo":  "https://root:hunter2pass@192.168.1.5:8006/",
	}
	// The parts that must never appear (the token's uuid, the password,
	// a stretch of the key).
	telltale := map[string]string{
		"token": "0f1e2d3c", "key body": keyBody(312)[20:40], "pem body": pemBody()[10:30],
		"pem block": keyBody(70)[20:40], "userinfo": "hunter2pass",
	}
	lists := []string{"extraAuthorizedKeys", "nfs.options", "network.dns", "template.extraModules"}
	for name, secret := range secrets {
		for _, path := range append(paths, lists...) {
			t.Run(name+"/"+path, func(t *testing.T) {
				var v any = secret
				for _, l := range lists {
					if path == l {
						v = []any{secret}
					}
				}
				lookup := withSetting(t, path, secret)
				switch {
				case path == "extraAuthorizedKeys":
					b, _ := json.Marshal(v)
					lookup = labLookup(t, map[string]string{Namespace + ":" + path: string(b)})
				case v != any(secret):
					lookup = withSetting(t, path, v)
				}
				_, err := ParseConfig(lookup)
				if path == "apiToken" && name == "token" {
					return // the right place for it
				}
				if err == nil {
					t.Fatalf("%s accepted %s", path, name)
				}
				if msg := err.Error(); strings.Contains(msg, telltale[name]) {
					t.Errorf("the message repeats the %s:\n%s", name, msg)
				}
			})
		}
	}
}
