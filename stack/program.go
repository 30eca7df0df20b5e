package stack

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Program is the Pulumi program behind `pulumi up`: it loads and validates
// the stack config, deploys the lab and exports the stack outputs. Nothing is
// registered when the config is invalid.
func Program(ctx *pulumi.Context) error {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return err
	}
	lab, err := Deploy(ctx, cfg)
	if err != nil {
		return err
	}
	for name, value := range Outputs(ctx, cfg, lab) {
		ctx.Export(name, value)
	}
	return nil
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
)

// Outputs are the stack outputs of a deployed lab. The private key is the
// only secret among them and stays one.
func Outputs(ctx *pulumi.Context, cfg *Config, lab *Lab) map[string]pulumi.Input {
	keyFile := SSHKeyFile(cfg, ctx.Stack())
	var nodes pulumi.Array
	ssh := pulumi.StringMap{}
	for _, name := range groupOrder(cfg.NodeGroups) {
		g := lab.NodeGroups[name]
		nodes = append(nodes, g.NodesOutput)
		for _, n := range g.Nodes {
			ssh[n.Name] = pulumi.Sprintf("ssh -i %s %s@%s", keyFile, cfg.AdminUser, n.IPv4)
		}
	}
	flat := nodes.ToArrayOutput().ApplyT(func(groups []any) []any {
		var all []any
		for _, g := range groups {
			all = append(all, g.([]any)...)
		}
		return all
	}).(pulumi.ArrayOutput)
	return map[string]pulumi.Input{
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
}
