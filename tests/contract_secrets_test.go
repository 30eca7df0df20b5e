package tests

import (
	"testing"

	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/stack"
)

// TestOutputsMakeThePrivateKeySecret checks nixlab's own boundary: handed a
// key pair whose private key is NOT secret (no TLS provider, no mock in
// between), stack.Outputs still exports it only as a secret.
func TestOutputsMakeThePrivateKeySecret(t *testing.T) {
	_, err := runMocked(t, labConfig(t, nil), false, func(ctx *pulumi.Context) error {
		lab := &stack.Lab{
			SSHKey: &tls.PrivateKey{
				PrivateKeyOpenssh: pulumi.String("-----BEGIN OPENSSH PRIVATE KEY-----").ToStringOutput(),
				PublicKeyOpenssh:  pulumi.String(mockPublicKey).ToStringOutput(),
			},
			Template:   &components.NixOSTemplate{},
			NodeGroups: map[string]*components.K8sNodeGroup{},
		}
		outs := stack.Outputs(ctx, &stack.Config{StateDir: t.TempDir()}, lab)
		key, err := await(ctx, outs[stack.OutputSSHPrivateKey].(pulumi.Output))
		if err != nil {
			return err
		}
		if !key.Secret {
			t.Errorf("%s is exported in plain text", stack.OutputSSHPrivateKey)
		}
		pub, err := await(ctx, outs[stack.OutputSSHPublicKey].(pulumi.Output))
		if err != nil {
			return err
		}
		if pub.Secret {
			t.Errorf("%s is secret; only the private key is", stack.OutputSSHPublicKey)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInventoryAndSSHOutputsArePlain: the provider's `initialization` block
// holds a sensitive field; the login user nixlab reads from it is not a
// secret, and neither are the inventories and ssh command lines built from
// it (the mock marks the password secret as the provider schema does).
func TestInventoryAndSSHOutputsArePlain(t *testing.T) {
	_, err := runMocked(t, labConfig(t, nil), false, withLab(func(ctx *pulumi.Context, cfg *stack.Config, lab *stack.Lab) error {
		outs := stack.Outputs(ctx, cfg, lab)
		for _, name := range []string{stack.OutputInventory, stack.OutputInventoryYAML, stack.OutputInventoryKubespray, stack.OutputNodes} {
			v, err := await(ctx, outs[name].(pulumi.Output))
			if err != nil {
				return err
			}
			if v.Secret {
				t.Errorf("stack output %s is secret", name)
			}
		}
		ssh, err := await(ctx, outs[stack.OutputSSH].(pulumi.StringMap).ToStringMapOutput())
		if err != nil {
			return err
		}
		if ssh.Secret {
			t.Errorf("stack output %s is secret", stack.OutputSSH)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
}
