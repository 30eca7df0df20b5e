package components

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProxmoxHost is the SSH side of the Proxmox host: the ISO is streamed to it
// and `qm` runs on it. Plain values, because they are fixed before the graph
// is built.
type ProxmoxHost struct {
	// Address is the host name or IP address of the Proxmox host.
	Address string
	// Port defaults to 22.
	Port int
	// User defaults to root; `qm` needs root.
	User string
	// PrivateKeyFile logs in with this key. When empty, the ssh-agent at
	// SSH_AUTH_SOCK is used. pulumi-command dials SSH_AUTH_SOCK, when set,
	// either way (see host_agent.go).
	PrivateKeyFile string
	// HostKey is the host's public key line ("ssh-ed25519 AAAA...") that
	// every connection to the host checks: a configured key
	// (pulumi.String) or the key PinProxmoxHostKey recorded on first
	// contact. It must pass CheckHostKey (ed25519 or ECDSA; the check runs
	// when the value is known). When nil, each component that connects to
	// the host records the key itself with PinProxmoxHostKey; share one
	// record between components by pinning once and passing the result.
	HostKey pulumi.StringInput
}

// withDefaults fills the port and user.
func (h ProxmoxHost) withDefaults() ProxmoxHost {
	if h.Port == 0 {
		h.Port = 22
	}
	if h.User == "" {
		h.User = "root"
	}
	return h
}

// check reports a host without an address.
func (h ProxmoxHost) check() error {
	if h.Address == "" {
		return errors.New("Host.Address is empty: set the Proxmox host's SSH address")
	}
	return nil
}

// CheckCredentials reports when nothing can log in to the host: no private
// key file and no ssh-agent (ErrNoSSHCredentials). Previews need no
// credentials; updates do. An agent that does not answer is warned about
// where the host key is pinned (agentProblem).
func (h ProxmoxHost) CheckCredentials() error {
	if h.PrivateKeyFile == "" && os.Getenv("SSH_AUTH_SOCK") == "" {
		return ErrNoSSHCredentials
	}
	return nil
}

// ErrNoSSHCredentials is CheckCredentials' error when neither a key file
// nor an ssh-agent is there; any other error of it is a stale agent.
var ErrNoSSHCredentials = errors.New("no SSH credentials for the Proxmox host: set a private key file (nixlab:proxmox.ssh.privateKeyFile) or start an ssh-agent holding the key (SSH_AUTH_SOCK is not set)")

// connection returns the remote connection for pulumi-command; h must be
// pinned (HostKey set). The private key, when read from a file, enters the
// graph only as a secret.
//
// What pulumi-command v1.2.1 does with it (provider/pkg/provider/remote/
// connection.go, connectionBase.SSHConfig):
//   - hostKey is parsed with ssh.ParseAuthorizedKey and checked with
//     ssh.FixedHostKey; the only host key algorithm offered is the key's own
//     type. Without hostKey it uses ssh.InsecureIgnoreHostKey: no check at
//     all, hence the pinning.
//   - privateKey is tried first; then, whenever agentSocketPath is set or
//     else SSH_AUTH_SOCK is set in the provider's environment
//     (connection_unix.go, tryGetDefaultAgentSocket), the agent socket is
//     dialled and a failed dial fails the connection, key or not: a stale
//     SSH_AUTH_SOCK is warned about (agentProblem), and the connection
//     names no socket of its own (see host_agent.go).
func (h ProxmoxHost) connection() (remote.ConnectionArgs, error) {
	conn := remote.ConnectionArgs{
		Host:           pulumi.String(h.Address),
		Port:           pulumi.Float64(float64(h.Port)),
		User:           pulumi.String(h.User),
		DialErrorLimit: pulumi.Int(20),
		PerDialTimeout: pulumi.Int(15),
	}
	if h.HostKey == nil {
		return conn, errNoHostKey
	}
	conn.HostKey = h.HostKey
	if h.PrivateKeyFile != "" {
		key, err := os.ReadFile(h.PrivateKeyFile)
		if err != nil {
			return conn, fmt.Errorf("reading the SSH private key: %w", err)
		}
		conn.PrivateKey = pulumi.ToSecret(pulumi.String(string(key))).(pulumi.StringOutput)
	}
	// Without a key file the provider uses the agent at SSH_AUTH_SOCK of
	// its own environment; passing the socket path would put a per-login
	// value into the inputs.
	return conn, nil
}

// sshEnvironment is the environment upload-iso.sh reads to reach the host;
// h must be pinned (HostKey set). The host key travels as text (the script
// writes a temporary known_hosts), so a later delete does not depend on a
// file of this checkout.
func (h ProxmoxHost) sshEnvironment() (pulumi.StringMap, error) {
	if h.HostKey == nil {
		return nil, errNoHostKey
	}
	return pulumi.StringMap{
		"NIXLAB_SSH_HOST":     pulumi.String(h.Address),
		"NIXLAB_SSH_USER":     pulumi.String(h.User),
		"NIXLAB_SSH_PORT":     pulumi.String(strconv.Itoa(h.Port)),
		"NIXLAB_SSH_KEY_FILE": pulumi.String(h.PrivateKeyFile),
		"NIXLAB_SSH_HOST_KEY": h.HostKey,
	}, nil
}

// target identifies where the ISO lands: host, port and storage. It is part
// of the ISO's file name, so that uploads for different targets never share
// a name (and one's delete can never remove the other's file).
func (h ProxmoxHost) target(storage string) string {
	sum := sha256.Sum256([]byte(h.Address + "\x00" + strconv.Itoa(h.Port) + "\x00" + storage))
	return hex.EncodeToString(sum[:4])
}
