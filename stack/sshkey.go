package stack

import (
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newSSHKey generates the stack's ED25519 key pair. Its public key goes into
// every node by cloud-init; the private key is a Pulumi secret (the TLS
// provider marks it so) and leaves the stack only as a secret output.
func newSSHKey(ctx *pulumi.Context, opts ...pulumi.ResourceOption) (*tls.PrivateKey, error) {
	opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"}))
	return tls.NewPrivateKey(ctx, "ssh-key", &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("ED25519"),
	}, opts...)
}
