package components

import (
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// HostKeyScanIgnoreChanges are the ignoreChanges paths of the host key scan:
// everything but its triggers. pulumi-command v1.2.1 runs `create` again on
// an update that has no `update` command (provider/pkg/provider/local/
// commandController.go, Command.Update), which would silently trust whatever
// key the host presents then; so a newer script, another checkout or another
// environment updates nothing, and only a new address or port (the triggers,
// replaceOnChanges) reads the key again.
func HostKeyScanIgnoreChanges() []string {
	return []string{"create", "environment", "interpreter", "logging"}
}

// PinProxmoxHostKey returns host with HostKey set to the key every
// connection to the Proxmox host checks, and the resource that recorded it
// (nil when the key was configured). Pin once per stack and pass the result
// to every component that connects to the host: they then share one record.
//
//   - host.HostKey set (a configured key): the key is checked with
//     CheckHostKey once its value is known (an error fails the deployment)
//     and reduced to "<type> <base64>"; nothing is registered.
//   - host.HostKey nil: registers name, a command:local:Command that runs
//     scripts/host-key.sh (`ssh-keyscan -t ed25519 -p <port> <address>`) on
//     its create only: trust on first use. Its stdout, kept in the stack
//     state, is checked the same way and becomes HostKey, so every
//     connection that uses it waits for the scan. Only a changed address or
//     port (its triggers) replaces it and reads the key again. A preview
//     runs nothing; the key is unknown there.
//
// When the host's key changes later (a reinstalled host), connections fail
// with pulumi-command's "ssh: handshake failed: ssh: host key mismatch" (from
// golang.org/x/crypto/ssh FixedHostKey). Once the new key is confirmed on the
// host's console (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), read
// it again by replacing the scan:
//
//	pulumi up --target-replace 'urn:pulumi:<stack>::<project>::command:local:Command::<name>'
//
// (`pulumi stack --show-urns` lists the URN), or set the key in
// nixlab:proxmox.ssh.hostKey.
func PinProxmoxHostKey(ctx *pulumi.Context, name string, host ProxmoxHost, opts ...pulumi.ResourceOption) (ProxmoxHost, *local.Command, error) {
	h := host.withDefaults()
	if err := h.check(); err != nil {
		return host, nil, fmt.Errorf("host key %s: %w", name, err)
	}
	// Said once per stack, where the host's connections are set up.
	if err := h.agentProblem(); err != nil {
		_ = ctx.Log.Warn(err.Error(), nil)
	}
	if host.HostKey != nil {
		host.HostKey = host.HostKey.ToStringOutput().ApplyT(normalizeHostKey).(pulumi.StringOutput)
		return host, nil, nil
	}
	scan, err := local.NewCommand(ctx, name, &local.CommandArgs{
		Create:      pulumi.String(scriptCommand("host-key.sh")),
		Interpreter: pulumi.ToStringArray([]string{"/bin/sh", "-c"}),
		Environment: pulumi.StringMap{
			"NIXLAB_SSH_HOST": pulumi.String(h.Address),
			"NIXLAB_SSH_PORT": pulumi.Sprintf("%d", h.Port),
		},
		Triggers: pulumi.Array{pulumi.String(h.Address), pulumi.Int(h.Port)},
		Logging:  local.LoggingStderr,
	}, append(append([]pulumi.ResourceOption{}, opts...), pulumi.IgnoreChanges(HostKeyScanIgnoreChanges()))...)
	if err != nil {
		return host, nil, err
	}
	target := fmt.Sprintf("%s:%d", h.Address, h.Port)
	host.HostKey = scan.Stdout.ApplyT(func(out string) (string, error) {
		key, err := normalizeHostKey(out)
		if err != nil {
			// The recorded text is a public key, but it is not repeated:
			// what went wrong is in the reason.
			return "", fmt.Errorf("%s: the host key recorded for %s cannot be pinned: %w; "+
				"replace %s to read it again, or set %s", name, target, err, name, HostKeySetting)
		}
		return key, nil
	}).(pulumi.StringOutput)
	return host, scan, nil
}

// pinned is h with a host key: h itself when HostKey is set (checked),
// otherwise with a key recorded by a scan named name (see
// PinProxmoxHostKey).
func (h ProxmoxHost) pinned(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (ProxmoxHost, error) {
	p, _, err := PinProxmoxHostKey(ctx, name, h, opts...)
	return p, err
}
