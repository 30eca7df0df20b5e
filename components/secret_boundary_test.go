package components

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// These tests look at what nixlab itself hands the pulumi-command SDK,
// before the SDK wraps the whole connection in a secret of its own
// (remote.NewCommand): a key given in plain text must already be secret.

func awaitSecret(t *testing.T, what string, in pulumi.StringPtrInput) {
	t.Helper()
	if in == nil {
		t.Fatalf("%s is not set", what)
	}
	res, err := internals.UnsafeAwaitOutput(context.Background(), in.ToStringPtrOutput())
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !res.Secret {
		t.Errorf("%s is handed to the SDK in plain text", what)
	}
}

// TestNodeConnection: a node step's key is a secret, and its connection
// names no agent socket (the engine keeps a command's stored connection
// when it replaces it, and a delete runs after this process is gone, so a
// per-process socket would be dead then).
func TestNodeConnection(t *testing.T) {
	conn := nodeConnection(pulumi.String("10.0.0.5"), pulumi.String("nixos"), pulumi.String("-----BEGIN OPENSSH PRIVATE KEY-----"))
	awaitSecret(t, "node connection privateKey", conn.PrivateKey)
	if conn.AgentSocketPath != nil {
		t.Error("a node connection names an agent socket")
	}
}

func TestHostConnectionKeyIsSecret(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := ProxmoxHost{Address: "10.0.0.2", PrivateKeyFile: keyFile,
		HostKey: pulumi.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGduv1etVrsUTD70C0EJnwb4E9sTCQbcxa3of7ltWa0E")}
	conn, err := h.withDefaults().connection()
	if err != nil {
		t.Fatal(err)
	}
	awaitSecret(t, "Proxmox host connection privateKey", conn.PrivateKey)
}
