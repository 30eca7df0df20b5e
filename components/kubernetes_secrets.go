package components

import (
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Bootstrap secrets of the cluster, generated in the stack by the random
// provider (pulumi-random v4.18.0, bridging hashicorp/terraform-provider-
// random at v3.7.1):
//
//   - the token ID (6 characters [a-z0-9]) is a RandomString. kubeadm calls
//     the token ID public (it names the bootstrap-token-<id> Secret); the
//     provider makes a RandomString's result its resource ID
//     (internal/provider/resource_string.go, Create: plan.ID = result), which
//     Pulumi cannot keep secret, so only the public half may be one;
//   - the token secret (16 characters [a-z0-9]) and the certificate key
//     (64 hex characters, 32 bytes) are RandomPasswords: their result is
//     Sensitive and their ID is the constant "none"
//     (internal/provider/resource_password.go, Create: plan.ID = "none").
//     Not RandomBytes: its hex output is Sensitive, but pulumi-random makes
//     its resource ID the base64 of the very same bytes (provider/
//     resources.go, computeRandomBytesID: "Pulumi ... cannot yet support
//     secret markers on resource IDs"), which would put the key in plain
//     text in the state.
//
// The character sets follow internal/random/string.go CreateString: the
// alphabet is the union of the enabled classes, and OverrideSpecial
// replaces the special characters, which gives the hex alphabet for the
// certificate key (digits plus "abcdef"). Every value is made a secret
// here, and the results are additional secret outputs of their resources,
// whatever the schema says.
const (
	tokenIDLength     = 6
	tokenSecretLength = 16
	certKeyHexLength  = 64
)

// secrets registers the token and certificate key.
func (b *clusterBuilder) secrets() error {
	opts := []pulumi.ResourceOption{pulumi.Parent(b.c),
		pulumi.AdditionalSecretOutputs([]string{"result"})}
	id, err := random.NewRandomString(b.ctx, "kube-token-id", &random.RandomStringArgs{
		Length:  pulumi.Int(tokenIDLength),
		Lower:   pulumi.Bool(true),
		Numeric: pulumi.Bool(true),
		Upper:   pulumi.Bool(false),
		Special: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return err
	}
	secret, err := random.NewRandomPassword(b.ctx, "kube-token-secret", &random.RandomPasswordArgs{
		Length:  pulumi.Int(tokenSecretLength),
		Lower:   pulumi.Bool(true),
		Numeric: pulumi.Bool(true),
		Upper:   pulumi.Bool(false),
		Special: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return err
	}
	key, err := random.NewRandomPassword(b.ctx, "kube-certificate-key", &random.RandomPasswordArgs{
		Length:          pulumi.Int(certKeyHexLength),
		Lower:           pulumi.Bool(false),
		Upper:           pulumi.Bool(false),
		Numeric:         pulumi.Bool(true),
		Special:         pulumi.Bool(true),
		OverrideSpecial: pulumi.String("abcdef"),
	}, opts...)
	if err != nil {
		return err
	}
	token := pulumi.Sprintf("%s.%s", id.Result, secret.Result)
	b.token = pulumi.ToSecret(token).(pulumi.StringOutput)
	b.certKey = pulumi.ToSecret(key.Result).(pulumi.StringOutput)
	return nil
}
