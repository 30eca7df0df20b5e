package components

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

// pulumi-command v1.2.1 cannot be told to leave the ssh-agent alone: it
// dials agentSocketPath, or else SSH_AUTH_SOCK of its own environment, for
// every connection, also one that carries a private key, and a failed dial
// fails the connection (provider/pkg/provider/remote/connection.go,
// connectionBase.SSHConfig; connection_unix.go, tryGetDefaultAgentSocket and
// dialAgent). A stale SSH_AUTH_SOCK (an agent that is gone, as after a
// re-login in tmux) thus breaks every connection, key or not. nixlab names no
// agent socket of its own in any connection: the engine keeps a command's
// stored connection when it replaces it (ignoreChanges apply to replacements
// too: pulumi/pulumi pkg/resource/deploy/step_generator.go, generateSteps,
// processIgnoreChanges before Check and Diff), and deletes run after the
// program has exited, so a per-process socket would be dead by then. Every
// connection is deterministic instead (host, port, user, key), and
// agentProblem warns, once per stack, when SSH_AUTH_SOCK names an agent that
// does not answer.

// remoteCommandIgnoreChanges are the ignoreChanges paths of every nixlab
// remote command: every input of remote.Command (pulumi-command v1.2.1,
// provider/pkg/provider/remote/command.go CommandInputs) but `triggers`.
// Such a command is never updated, only replaced when its triggers change
// (it runs again): a newer script or another connection is no reason to
// run a check or a bootstrap step again on a working machine. A
// replacement runs with the inputs stored at creation for these paths
// (the engine applies ignoreChanges before it diffs; step_generator.go,
// generateSteps), so they must not carry per-run values: connections are
// deterministic (see above).
func remoteCommandIgnoreChanges() []string {
	return []string{"addPreviousOutputInEnv", "connection", "create", "delete",
		"environment", "logging", "stdin", "update"}
}

// agentProblem says why connections will fail: the ssh-agent socket
// SSH_AUTH_SOCK names does not answer (an agent that is gone), which
// pulumi-command turns into a failed connection without a retry, also for
// connections with a private key (connection.go, SSHConfig). nil when no
// socket is named (CheckCredentials reports a missing key and agent) or
// when it answers.
func (h ProxmoxHost) agentProblem() error {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" || runtime.GOOS == "windows" {
		return nil
	}
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		fix := "start ssh-agent and ssh-add the key in this shell"
		if h.PrivateKeyFile != "" {
			fix = "unset SSH_AUTH_SOCK (nixlab:proxmox.ssh.privateKeyFile is set, no agent is needed) or start ssh-agent in this shell"
		}
		return fmt.Errorf("the ssh-agent at SSH_AUTH_SOCK=%s does not answer (%v), and pulumi-command dials it for every SSH "+
			"connection (to the Proxmox host and to the nodes), with or without a key: %s", sock, err, fix)
	}
	_ = c.Close()
	return nil
}
