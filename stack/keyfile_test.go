package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A privateKeyFile that is no private key (a public key, a .pub file,
// anything else) is refused at validation without printing its content; a
// key other users can read is a warning.
func TestPrivateKeyFileChecks(t *testing.T) {
	const private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----\n"
	const public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk8xQpL0secretlookingcomment user@host\n"
	dir := t.TempDir()
	for _, tt := range []struct {
		name, file, content string
		mode                os.FileMode
		wantErr, wantWarn   string // "" for none
	}{
		{"private key", "id_ed25519", private, 0o600, "", ""},
		{"pem rsa key", "id_rsa", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", 0o400, "", ""},
		{"public key", "id_ed25519.pub", public, 0o644, "holds a public key; give the private key file (the same path without .pub", ""},
		{"public key without .pub", "key", public, 0o600, "holds a public key", ""},
		{"empty .pub", "empty.pub", "", 0o600, "is a .pub file, not a private key", ""},
		{"not a key", "notes.txt", "hello\n", 0o600, "is not a private key file", ""},
		{"readable by others", "open_key", private, 0o644, "", "has mode 0644, readable by other users; run chmod 600"},
		{"readable by group", "group_key", private, 0o640, "", "has mode 0640"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseConfig(withSetting(t, "proxmox.ssh.privateKeyFile", path))
			msg := errorFor(err, "nixlab:proxmox.ssh.privateKeyFile")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && !strings.Contains(msg, tt.wantErr):
				t.Fatalf("message %q lacks %q (all: %v)", msg, tt.wantErr, err)
			case tt.wantErr != "":
				if strings.Contains(msg, "AAAAC3") || strings.Contains(msg, "hello") || !strings.Contains(msg, path) {
					t.Errorf("message repeats the content or lacks the path: %q", msg)
				}
				return
			}
			warnings := strings.Join(cfg.Warnings(), "\n")
			if tt.wantWarn == "" && warnings != "" || !strings.Contains(warnings, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", warnings, tt.wantWarn)
			}
		})
	}
}
