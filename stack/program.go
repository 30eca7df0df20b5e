package stack

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
	ctx.Export("templateVmId", lab.Template.TemplateVmId)
	ctx.Export("templateIsoFileId", lab.Template.IsoFileId)
	ctx.Export("templateContentHash", lab.Template.ContentHash)
	ctx.Export("sshPublicKey", lab.SSHKey.PublicKeyOpenssh)
	ctx.Export("sshPrivateKey", pulumi.ToSecret(lab.SSHKey.PrivateKeyOpenssh))
	return nil
}
