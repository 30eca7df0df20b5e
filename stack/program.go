package stack

import (
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Program is the Pulumi program behind `pulumi up`: it loads and validates
// the stack config, deploys the lab and exports the stack outputs. Nothing is
// registered when the config is invalid. Relative paths in the config are
// relative to the working directory, the project directory under the Pulumi
// CLI.
func Program(ctx *pulumi.Context) error {
	_, _, err := Run(ctx, "")
	return err
}

// ProgramIn is Program for a process whose working directory is not the
// project directory (an Automation API embedding): relative paths in the
// config are resolved against dir.
func ProgramIn(dir string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, _, err := Run(ctx, dir)
		return err
	}
}

// Run is the body of Program: load, resolve relative paths against dir (when
// not empty), deploy, export. It returns the config and the lab for callers
// that look at the graph.
func Run(ctx *pulumi.Context, dir string) (*Config, *Lab, error) {
	cfg, err := LoadConfigIn(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range cfg.Warnings() {
		// `pulumi up` prints it; `nixlab plan` lists it under Warnings.
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, nil, fmt.Errorf("log a warning: %w", err)
		}
	}
	lab, err := Deploy(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	for name, value := range Outputs(ctx, cfg, lab) {
		ctx.Export(name, value)
	}
	return cfg, lab, nil
}

// ResolvePaths makes every relative path of the config (state directory,
// SSH key file, prebuilt ISO, extra modules) absolute against dir.
func (c *Config) ResolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.StateDir)
	abs(&c.Proxmox.SSH.PrivateKeyFile)
	abs(&c.Template.ISOPath)
	modules := make([]string, len(c.Template.ExtraModules))
	for i, m := range c.Template.ExtraModules {
		modules[i] = m
		abs(&modules[i])
	}
	c.Template.ExtraModules = modules
}

// Output names of the stack.
const (
	OutputTemplateVMID       = "templateVmId"
	OutputTemplateISO        = "templateIsoFileId"
	OutputContentHash        = "templateContentHash"
	OutputNodes              = "nodes"
	OutputInventory          = "inventory"
	OutputInventoryYAML      = "inventoryYaml"
	OutputInventoryKubespray = "inventoryKubespray"
	OutputSSHPublicKey       = "sshPublicKey"
	OutputSSHPrivateKey      = "sshPrivateKey"
	OutputSSH                = "ssh"
	OutputSSHKeyFile         = "sshKeyFile"
	// OutputKubeconfig is the cluster's admin kubeconfig (a secret) and
	// OutputKubernetesEndpoint its API server URL; both only when the
	// cluster is deployed (nixlab:kubernetes.enabled).
	OutputKubeconfig         = "kubeconfig"
	OutputKubernetesEndpoint = "kubernetesEndpoint"
)

// Outputs are the stack outputs of a deployed lab. The private key and the
// kubeconfig are the only secrets among them and stay ones.
func Outputs(ctx *pulumi.Context, cfg *Config, lab *Lab) map[string]pulumi.Input {
	keyFile, knownHosts := SSHKeyFile(cfg, ctx.Stack()), KnownHostsFile(cfg, ctx.Stack())
	var nodes pulumi.Array
	ssh := pulumi.StringMap{}
	for _, name := range cfg.GroupOrder() {
		g := lab.NodeGroups[name]
		nodes = append(nodes, g.NodesOutput)
		for _, n := range g.Nodes {
			ssh[n.Name] = pulumi.Sprintf("ssh -i %s -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=%s %s@%s",
				keyFile, knownHosts, n.User, n.IPv4)
		}
	}
	flat := nodes.ToArrayOutput().ApplyT(func(groups []any) []any {
		var all []any
		for _, g := range groups {
			all = append(all, g.([]any)...)
		}
		return all
	}).(pulumi.ArrayOutput)
	outs := map[string]pulumi.Input{
		OutputTemplateVMID:       lab.Template.TemplateVmId,
		OutputTemplateISO:        lab.Template.IsoFileId,
		OutputContentHash:        lab.Template.ContentHash,
		OutputNodes:              flat,
		OutputInventory:          lab.Inventory,
		OutputInventoryYAML:      lab.InventoryYAML,
		OutputInventoryKubespray: lab.InventoryKubespray,
		OutputSSHPublicKey:       lab.SSHKey.PublicKeyOpenssh,
		OutputSSHPrivateKey:      pulumi.ToSecret(lab.SSHKey.PrivateKeyOpenssh),
		OutputSSH:                ssh,
		OutputSSHKeyFile:         pulumi.String(keyFile),
	}
	if k := lab.Kubernetes; k != nil {
		outs[OutputKubeconfig] = pulumi.ToSecret(k.Kubeconfig)
		outs[OutputKubernetesEndpoint] = k.Endpoint
	}
	return outs
}
