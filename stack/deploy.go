package stack

import (
	"errors"
	"fmt"
	"time"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
)

// Lab is what Deploy creates, for callers that wire more resources onto it
// or export its values.
type Lab struct {
	// Provider is the explicit Proxmox provider every VM uses.
	Provider *proxmoxve.Provider
	// SSHKey is the stack's generated ED25519 key pair.
	SSHKey *tls.PrivateKey
	// ProxmoxHost is the Proxmox host's SSH side with its pinned host key,
	// as every component that connects to the host takes it.
	ProxmoxHost components.ProxmoxHost
	// HostKeyScan recorded the host's key on first contact; nil when
	// nixlab:proxmox.ssh.hostKey is set.
	HostKeyScan *local.Command
	// Template is the NixOS template pipeline.
	Template *components.NixOSTemplate
	// NodeGroups are the cloned node groups by name.
	NodeGroups map[string]*components.K8sNodeGroup
	// Inventory is the Ansible inventory in INI form; InventoryYAML the
	// same in YAML; InventoryKubespray the kubespray-shaped INI.
	Inventory          pulumi.StringOutput
	InventoryYAML      pulumi.StringOutput
	InventoryKubespray pulumi.StringOutput
	// Kubernetes is the kubeadm cluster on the nodes; nil when
	// nixlab:kubernetes.enabled is false or there are no nodes.
	Kubernetes *components.KubernetesCluster
	// Roll rolls a new node system through the running nodes; nil with a
	// prebuilt ISO (no node system) or without nodes.
	Roll *components.RollingUpdate
}

// Deploy registers the whole lab for a validated config: the stack's SSH key
// pair, the Proxmox provider, the NixOS template, one K8sNodeGroup per
// configured group (clones chained across groups), the Kubernetes cluster on
// the ready nodes (unless nixlab:kubernetes.enabled is false) and the
// inventories. opts apply to every top-level resource
// (for example pulumi.Parent to nest the lab in a component of the caller).
func Deploy(ctx *pulumi.Context, cfg *Config, opts ...pulumi.ResourceOption) (*Lab, error) {
	if cfg == nil {
		return nil, fmt.Errorf("stack.Deploy: config is nil")
	}
	// Previews need no SSH credentials (the template warns); an update
	// fails here, before anything is created.
	if !ctx.DryRun() {
		if err := cfg.checkSSHCredentials(); err != nil {
			return nil, err
		}
	}
	key, err := newSSHKey(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w", err)
	}
	provider, err := proxmoxve.NewProvider(ctx, "proxmox", providerArgs(cfg), opts...)
	if err != nil {
		return nil, fmt.Errorf("proxmox provider: %w", err)
	}
	// One record of the host key for the whole stack (trust on first use
	// unless nixlab:proxmox.ssh.hostKey is set): every connection to the
	// host checks it.
	host, scan, err := components.PinProxmoxHostKey(ctx, HostKeyScanName, proxmoxHost(cfg), opts...)
	if err != nil {
		return nil, fmt.Errorf("%s:proxmox.ssh: %w", Namespace, err)
	}
	withProvider := append(append([]pulumi.ResourceOption{}, opts...), pulumi.Provider(provider))
	template, err := components.NewNixOSTemplate(ctx, "template", templateArgs(cfg, host), withProvider...)
	if err != nil {
		return nil, fmt.Errorf("nixlab:template: %w", err)
	}
	lab := &Lab{Provider: provider, SSHKey: key, Template: template, ProxmoxHost: host, HostKeyScan: scan}
	if err := deployNodeGroups(ctx, cfg, lab, withProvider); err != nil {
		return nil, err
	}
	if err := deployKubernetes(ctx, cfg, lab, opts); err != nil {
		return nil, err
	}
	if err := deployRoll(ctx, cfg, lab, opts); err != nil {
		return nil, err
	}
	inventories(ctx, cfg, lab)
	return lab, nil
}

// checkSSHCredentials fails before anything is created when neither a key
// file nor an ssh-agent can log in to the Proxmox host.
func (c *Config) checkSSHCredentials() error {
	err := proxmoxHost(c).CheckCredentials()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, components.ErrNoSSHCredentials):
		return &KeyError{Key: Namespace + ":proxmox.ssh.privateKeyFile", Msg: "is not set and no ssh-agent is running (SSH_AUTH_SOCK is empty); set it to a private key the Proxmox host accepts, or start ssh-agent and ssh-add the key"}
	default:
		return err
	}
}

// providerArgs configures the Proxmox provider. The token reaches Pulumi only
// as a secret. The provider's own SSH access (used for disk imports and
// snippets) points at the same host and credentials as nixlab's.
func providerArgs(cfg *Config) *proxmoxve.ProviderArgs {
	p := cfg.Proxmox
	ssh := &proxmoxve.ProviderSshArgs{
		Username: pulumi.String(p.SSH.User),
		Nodes: proxmoxve.ProviderSshNodeArray{&proxmoxve.ProviderSshNodeArgs{
			Name:    pulumi.String(p.Node),
			Address: pulumi.String(p.SSH.Host),
			Port:    pulumi.Int(p.SSH.Port),
		}},
	}
	if p.SSH.PrivateKeyFile == "" {
		ssh.Agent = pulumi.Bool(true)
	}
	return &proxmoxve.ProviderArgs{
		Endpoint: pulumi.String(p.Endpoint),
		Insecure: pulumi.Bool(p.Insecure),
		ApiToken: pulumi.ToSecret(pulumi.String(cfg.APIToken.Reveal())).(pulumi.StringOutput),
		Ssh:      ssh,
	}
}

// templateArgs maps the config onto the template component; host is the
// pinned Proxmox host.
func templateArgs(cfg *Config, host components.ProxmoxHost) *components.NixOSTemplateArgs {
	t := cfg.Template
	swap := swapGB(cfg)
	return &components.NixOSTemplateArgs{
		NodeName:       pulumi.String(cfg.Proxmox.Node),
		VMID:           t.VMID,
		Name:           t.Name,
		ISOStorage:     cfg.Proxmox.ISOStorage,
		VMStorage:      pulumi.String(cfg.Proxmox.VMStorage),
		Bridge:         pulumi.String(cfg.Proxmox.Bridge),
		DiskSizeGB:     t.DiskSizeGB,
		Cores:          t.Cores,
		MemoryMB:       t.MemoryMB,
		InstallTimeout: time.Duration(t.InstallTimeoutMinutes) * time.Minute,
		Settings:       nodeSettings(cfg, swap),
		ExtraModules:   t.ExtraModules,
		PrebuiltISO:    t.ISOPath,
		StateDir:       cfg.StateDir,
		Host:           host,
	}
}

// HostKeyScanName is the resource that records the Proxmox host's SSH host
// key on the first `up` when nixlab:proxmox.ssh.hostKey is not set (see
// components.PinProxmoxHostKey). Replace it to read a changed key again.
const HostKeyScanName = "proxmox-host-key"

// proxmoxHost is the SSH side of the Proxmox host as configured: HostKey is
// the configured key, or nil when the stack records it (Deploy pins it).
func proxmoxHost(cfg *Config) components.ProxmoxHost {
	h := components.ProxmoxHost{
		Address:        cfg.Proxmox.SSH.Host,
		Port:           cfg.Proxmox.SSH.Port,
		User:           cfg.Proxmox.SSH.User,
		PrivateKeyFile: cfg.Proxmox.SSH.PrivateKeyFile,
	}
	if cfg.Proxmox.SSH.HostKey != "" {
		h.HostKey = pulumi.String(cfg.Proxmox.SSH.HostKey)
	}
	return h
}

// nodeSettings are the settings baked into the image: only what the image
// itself needs, so clone-time settings never change the content hash.
func nodeSettings(cfg *Config, swapGB int) components.NodeSettings {
	s := components.NodeSettings{
		AdminUser:      cfg.AdminUser,
		AuthorizedKeys: append([]string{}, cfg.ExtraAuthorizedKeys...),
		Timezone:       cfg.Timezone,
		Disk:           components.DefaultDisk,
		SwapSizeGB:     swapGB,
	}
	if cfg.NFS != nil {
		s.NFS = &components.NFSSettings{
			Server:     cfg.NFS.Server,
			Export:     cfg.NFS.Export,
			MountPoint: cfg.NFS.MountPoint,
			Options:    append([]string{}, cfg.NFS.Options...),
		}
	}
	return s
}
