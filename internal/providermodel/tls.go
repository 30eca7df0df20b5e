package providermodel

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// srcTLSKey is the TLS provider's private key resource, as pulumi-tls v5.2.0
// documents it (sdk/go/tls/privateKey.go): ecdsaCurve defaults to P224,
// rsaBits to 2048, every input forces replacement, the three private key
// encodings are sensitive (the SDK lists them as additional secret outputs),
// and the OpenSSH public key ends with a newline.
const srcTLSKey = "hashicorp/terraform-provider-tls internal/provider/resource_private_key.go (privateKeyResource), " +
	"as documented in pulumi-tls v5.2.0 sdk/go/tls/privateKey.go"

var privateKeyRules = []Rule{
	{
		Name:   "key-defaults-filled",
		Source: srcTLSKey + " (ecdsaCurve P224, rsaBits 2048)",
		Check: func(in resource.PropertyMap) {
			setDefault(in, "ecdsaCurve", resource.NewStringProperty("P224"))
			setDefault(in, "rsaBits", resource.NewNumberProperty(2048))
		},
	},
	{
		Name:   "generated-key-sensitive",
		Source: srcTLSKey + " (private_key_openssh, private_key_pem, private_key_pem_pkcs8 Sensitive)",
		Read: func(state resource.PropertyMap, env Env) {
			priv := resource.NewStringProperty(env.PrivateKeyOpenssh)
			state["privateKeyOpenssh"] = resource.MakeSecret(priv)
			state["privateKeyPem"] = resource.MakeSecret(priv)
			state["privateKeyPemPkcs8"] = resource.MakeSecret(priv)
			state["publicKeyOpenssh"] = resource.NewStringProperty(env.PublicKeyOpenssh)
		},
	},
}

// privateKeyDiff: every input of the key forces replacement.
func privateKeyDiff(state, cfg resource.PropertyMap) DiffResult {
	var d DiffResult
	for _, k := range []resource.PropertyKey{"algorithm", "ecdsaCurve", "rsaBits"} {
		if !unwrap(state[k]).DeepEquals(unwrap(cfg[k])) {
			d.Changed = append(d.Changed, string(k))
			d.Replace = true
		}
	}
	return d
}
