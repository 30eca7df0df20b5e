package components

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// TestAgentProblem: an agent socket nobody answers on is reported with the
// fix, with or without a key file (pulumi-command dials it either way).
func TestAgentProblem(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(agent.NewKeyring(), c) }()
		}
	}()
	stale := filepath.Join(dir, "gone", "agent.sock")
	for _, tc := range []struct {
		name, sock, keyFile string
		want                bool
	}{
		{"stale agent, no key file", stale, "", true},
		{"stale agent, key file", stale, "/keys/id_ed25519", true},
		{"live agent", live, "", false},
		{"no agent", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", tc.sock)
			err := ProxmoxHost{Address: "pve", PrivateKeyFile: tc.keyFile}.agentProblem()
			if (err != nil) != tc.want {
				t.Fatalf("agentProblem() = %v, want an error: %v", err, tc.want)
			}
			if err != nil {
				want := []string{stale, "ssh-add the key"}
				if tc.keyFile != "" {
					want = []string{stale, "unset SSH_AUTH_SOCK", "nixlab:proxmox.ssh.privateKeyFile"}
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q lacks %q", err, w)
					}
				}
			}
		})
	}
}
