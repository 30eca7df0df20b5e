package components

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// pulumi-command v1.2.1 cannot be told to leave the ssh-agent alone: it
// dials agentSocketPath, or else SSH_AUTH_SOCK of its own environment, for
// every connection, also one that carries a private key, and a failed dial
// fails the connection (provider/pkg/provider/remote/connection.go,
// connectionBase.SSHConfig; connection_unix.go, tryGetDefaultAgentSocket and
// dialAgent). An empty agentSocketPath is dialled too and fails. A stale
// SSH_AUTH_SOCK (an agent that is gone, as after a re-login in tmux) would
// thus break connections that need no agent at all.
//
// So when nixlab connects with a private key (a key file to the Proxmox
// host, the stack's key to the nodes) it points agentSocketPath at an agent
// of its own: it holds no keys and refuses every change, so the provider's
// dial succeeds and the key is the only credential. It is served by this
// process, which runs for as long as the engine creates and updates
// resources (the Go program waits for every registration), and on Linux it
// is an abstract socket: no file, gone with the process. nixlab's remote
// commands have no delete step, the only step that runs after the program
// has exited, so none dials it later.

// noAgent is an ssh-agent with no keys that refuses every change
// (golang.org/x/crypto/ssh/agent.Agent).
type noAgent struct{}

var errNoAgent = errors.New("nixlab's placeholder agent holds no keys and accepts none")

func (noAgent) List() ([]*agent.Key, error)                        { return nil, nil }
func (noAgent) Sign(ssh.PublicKey, []byte) (*ssh.Signature, error) { return nil, errNoAgent }
func (noAgent) Add(agent.AddedKey) error                           { return errNoAgent }
func (noAgent) Remove(ssh.PublicKey) error                         { return errNoAgent }
func (noAgent) RemoveAll() error                                   { return errNoAgent }
func (noAgent) Lock([]byte) error                                  { return errNoAgent }
func (noAgent) Unlock([]byte) error                                { return errNoAgent }
func (noAgent) Signers() ([]ssh.Signer, error)                     { return nil, nil }

var placeholderAgent struct {
	once sync.Once
	path string
	err  error
}

// noAgentSocket returns the socket path of this process's empty agent,
// starting it on first use; "" on Windows, where pulumi-command uses the
// agent's pipe only when it answers (connection_windows.go,
// tryGetDefaultAgentSocket), so nothing needs replacing.
func noAgentSocket() (string, error) {
	if runtime.GOOS == "windows" {
		return "", nil
	}
	a := &placeholderAgent
	a.once.Do(func() {
		a.path, a.err = serveNoAgent()
	})
	return a.path, a.err
}

// keyOnlyAgentSocket is the agentSocketPath for a pulumi-command
// connection that logs in with a private key: this process's placeholder
// agent (see noAgentSocket), so that a stale SSH_AUTH_SOCK cannot fail the
// connection. It is nil, and the provider falls back to SSH_AUTH_SOCK as
// without it, on Windows or when the placeholder cannot listen. The path
// differs from run to run: a command whose connection carries it must
// never be updated (see remoteCommandIgnoreChanges), as every nixlab
// command is not.
func keyOnlyAgentSocket() pulumi.StringPtrInput {
	sock, err := noAgentSocket()
	if err != nil || sock == "" {
		return nil
	}
	return pulumi.StringPtr(sock)
}

// remoteCommandIgnoreChanges are the ignoreChanges paths of every nixlab
// remote command: every input of remote.Command (pulumi-command v1.2.1,
// provider/pkg/provider/remote/command.go CommandInputs) but `triggers`.
// Such a command is never updated, only replaced when its triggers change:
// pulumi-command runs `create` again on an update that has no `update`
// command (remote/commandController.go, Command.Update) with the
// connection stored in state, and that connection names the placeholder
// agent of the process that created it (keyOnlyAgentSocket, a dead
// socket by then), so an update could not even dial. A replacement takes
// every value, the connection included, from the current program.
func remoteCommandIgnoreChanges() []string {
	return []string{"addPreviousOutputInEnv", "connection", "create", "delete",
		"environment", "logging", "stdin", "update"}
}

// serveNoAgent listens on a new socket and serves noAgent on it until the
// process exits.
func serveNoAgent() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("placeholder ssh-agent: %w", err)
	}
	name := fmt.Sprintf("nixlab-no-agent-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
	var path string
	if runtime.GOOS == "linux" {
		// "@" makes an abstract socket (net: unix addresses).
		path = "@" + name
	} else {
		dir, err := os.MkdirTemp("", "nixlab-agent-")
		if err != nil {
			return "", fmt.Errorf("placeholder ssh-agent: %w", err)
		}
		path = filepath.Join(dir, "agent.sock")
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return "", fmt.Errorf("placeholder ssh-agent on %s: %w", path, err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(noAgent{}, c)
			}()
		}
	}()
	return path, nil
}

// agentProblem says why connections without a key file will fail: the
// ssh-agent socket SSH_AUTH_SOCK names does not answer (an agent that is
// gone), which pulumi-command turns into a failed connection without a
// retry (connection.go, SSHConfig). nil when a key file is set, when no
// socket is named (CheckCredentials reports that) or when it answers.
func (h ProxmoxHost) agentProblem() error {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if h.PrivateKeyFile != "" || sock == "" || runtime.GOOS == "windows" {
		return nil
	}
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return fmt.Errorf("the ssh-agent at SSH_AUTH_SOCK=%s does not answer (%v), and every connection to the Proxmox host "+
			"uses it: start ssh-agent and ssh-add the key in this shell, or set nixlab:proxmox.ssh.privateKeyFile", sock, err)
	}
	_ = c.Close()
	return nil
}
