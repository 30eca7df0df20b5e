package components

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/agent"
)

// TestAgentProblem: an agent socket nobody answers on is reported (with the
// fix) when the connections depend on the agent, and never with a key file.
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
		{"stale agent, key file", stale, "/keys/id_ed25519", false},
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
				for _, w := range []string{stale, "ssh-add", "nixlab:proxmox.ssh.privateKeyFile"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q lacks %q", err, w)
					}
				}
			}
		})
	}
}

// TestNoAgentSocketServesAnEmptyAgent: the placeholder agent answers, lists
// no keys and refuses to take one; every call returns the same socket.
func TestNoAgentSocketServesAnEmptyAgent(t *testing.T) {
	path, err := noAgentSocket()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := noAgentSocket(); again != path {
		t.Errorf("second call gave %q, first %q", again, path)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	defer c.Close()
	a := agent.NewClient(c)
	if keys, err := a.List(); err != nil || len(keys) != 0 {
		t.Errorf("List() = %v, %v; want none", keys, err)
	}
	if err := a.RemoveAll(); err == nil {
		t.Error("RemoveAll accepted")
	}
	if err := a.Lock([]byte("x")); err == nil {
		t.Error("Lock accepted")
	}
}
