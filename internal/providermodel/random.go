package providermodel

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Type tokens of the random provider (pulumi-random v4.18.0).
const (
	TypeRandomString   = "random:index/randomString:RandomString"
	TypeRandomPassword = "random:index/randomPassword:RandomPassword"
	TypeRandomBytes    = "random:index/randomBytes:RandomBytes"
)

// Sources of the random rules: pulumi-random v4.18.0 bridges
// hashicorp/terraform-provider-random at a commit of v3.7.1 (provider/go.mod).
const (
	srcRandomString   = "hashicorp/terraform-provider-random v3.7.1 internal/provider/resource_string.go (stringSchemaV3, Create)"
	srcRandomPassword = "hashicorp/terraform-provider-random v3.7.1 internal/provider/resource_password.go (passwordSchemaV3, Create)"
	srcRandomBytes    = "hashicorp/terraform-provider-random v3.7.1 internal/provider/resource_bytes.go (bytesSchemaV0, Create)"
	srcRandomChars    = "hashicorp/terraform-provider-random v3.7.1 internal/random/string.go (CreateString: the alphabet)"
	srcBytesID        = "pulumi/pulumi-random v4.18.0 provider/resources.go (computeRandomBytesID: ID = base64)"
)

// stringDefaults fills what stringSchemaV3/passwordSchemaV3 default: the
// classes special, upper and lower (booldefault true), the minimums
// (int64default 0), and number/numeric, which mirror each other
// (NumberNumericAttributePlanModifier) and are true when both are unset.
func stringDefaults(in resource.PropertyMap) {
	for _, k := range []resource.PropertyKey{"special", "upper", "lower"} {
		setDefault(in, k, resource.NewBoolProperty(true))
	}
	for _, k := range []resource.PropertyKey{"minNumeric", "minUpper", "minLower", "minSpecial"} {
		setDefault(in, k, resource.NewNumberProperty(0))
	}
	num, numeric := in["number"], in["numeric"]
	switch {
	case numeric.IsBool():
		in["number"] = numeric
	case num.IsBool():
		in["numeric"] = num
	default:
		in["number"] = resource.NewBoolProperty(true)
		in["numeric"] = resource.NewBoolProperty(true)
	}
}

// alphabet is the union of the enabled character classes (CreateString);
// overrideSpecial replaces the special characters.
func alphabet(in resource.PropertyMap) string {
	flag := func(k resource.PropertyKey) bool {
		v := unwrap(in[k])
		return v.IsBool() && v.BoolValue()
	}
	special := "!@#$%&*()-_=+[]{}<>:?"
	if o := unwrap(in["overrideSpecial"]); o.IsString() && o.StringValue() != "" {
		special = o.StringValue()
	}
	chars := ""
	if flag("upper") {
		chars += "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	if flag("lower") {
		chars += "abcdefghijklmnopqrstuvwxyz"
	}
	if flag("numeric") {
		chars += "0123456789"
	}
	if flag("special") {
		chars += special
	}
	return chars
}

// seededBytes are n deterministic bytes from a seed: the model's stand-in
// for crypto/rand, so that tests see the same values on every run.
func seededBytes(seed string, n int) []byte {
	var out []byte
	for i := uint64(0); len(out) < n; i++ {
		var ctr [8]byte
		binary.BigEndian.PutUint64(ctr[:], i)
		sum := sha256.Sum256(append([]byte(seed), ctr[:]...))
		out = append(out, sum[:]...)
	}
	return out[:n]
}

// generateString is a result of the given inputs' length over their
// alphabet (minimums are not modelled: nixlab sets none).
func generateString(in resource.PropertyMap, seed string) string {
	chars := alphabet(in)
	n := 0
	if l := unwrap(in["length"]); l.IsNumber() {
		n = int(l.NumberValue())
	}
	if chars == "" || n <= 0 {
		return ""
	}
	b := seededBytes(seed, n)
	out := make([]byte, n)
	for i := range out {
		out[i] = chars[int(b[i])%len(chars)]
	}
	return string(out)
}

var randomStringRules = []Rule{
	{Name: "string-defaults-filled", Source: srcRandomString + " (Default true / 0; number = numeric)", Check: stringDefaults},
	{
		Name:   "string-result-generated-not-sensitive",
		Source: srcRandomString + " (result Computed, not Sensitive); " + srcRandomChars,
		Read: func(state resource.PropertyMap, env Env) {
			if env.Preview {
				return
			}
			state["result"] = resource.NewStringProperty(generateString(state, env.Seed))
		},
	},
}

var randomPasswordRules = []Rule{
	{Name: "string-defaults-filled", Source: srcRandomPassword + " (Default true / 0; number = numeric)", Check: stringDefaults},
	{
		Name:   "password-result-sensitive",
		Source: srcRandomPassword + " (result and bcrypt_hash Sensitive); " + srcRandomChars,
		Read: func(state resource.PropertyMap, env Env) {
			if env.Preview {
				return
			}
			result := generateString(state, env.Seed)
			state["result"] = resource.MakeSecret(resource.NewStringProperty(result))
			state["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty("$2a$10$" + hex.EncodeToString(seededBytes(result, 16))))
		},
	},
}

var randomBytesRules = []Rule{
	{
		Name:   "bytes-sensitive",
		Source: srcRandomBytes + " (base64 and hex Sensitive)",
		Read: func(state resource.PropertyMap, env Env) {
			if env.Preview {
				return
			}
			n := 0
			if l := unwrap(state["length"]); l.IsNumber() {
				n = int(l.NumberValue())
			}
			b := seededBytes(env.Seed, n)
			state["base64"] = resource.MakeSecret(resource.NewStringProperty(base64.StdEncoding.EncodeToString(b)))
			state["hex"] = resource.MakeSecret(resource.NewStringProperty(hex.EncodeToString(b)))
		},
	},
}

// randomDiff: every input of a random resource forces replacement
// (RequiresReplace on each attribute of the three schemas; keepers only
// when a value changes, RequiresReplaceIfValuesNotNull).
func randomDiff(state, cfg resource.PropertyMap) DiffResult {
	var d DiffResult
	for _, k := range unionKeys(state, cfg) {
		switch k {
		case "result", "bcryptHash", "base64", "hex":
			continue
		}
		s, c := unwrap(state[k]), unwrap(cfg[k])
		if s.IsNull() && c.IsNull() || s.DeepEquals(c) {
			continue
		}
		d.Changed = append(d.Changed, string(k))
		d.Replace = true
	}
	return d
}

// ID is the resource ID a provider gives a resource with the given state,
// when the model knows it: a RandomString's ID is its result
// (srcRandomString, Create: plan.ID = result), a RandomPassword's is "none"
// (srcRandomPassword), a RandomBytes' is its base64 (srcBytesID), a VM's
// is its VM ID (vmID). Pulumi stores IDs in plain text, secret or not.
func ID(typ string, state resource.PropertyMap) (string, bool) {
	switch typ {
	case TypeVM:
		return vmID(state)
	case TypeRandomString:
		if r := unwrap(state["result"]); r.IsString() {
			return r.StringValue(), true
		}
	case TypeRandomPassword:
		return "none", true
	case TypeRandomBytes:
		if r := unwrap(state["base64"]); r.IsString() {
			return r.StringValue(), true
		}
	}
	return "", false
}
