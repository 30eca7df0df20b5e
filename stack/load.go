package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is the config namespace of every nixlab key.
const Namespace = "nixlab"

// Keys lists every top-level config key nixlab reads, without the namespace.
// Pulumi.yaml declares each of them.
var Keys = []string{
	"adminUser", "apiToken", "clusterName", "extraAuthorizedKeys", "network",
	"nfs", "nodeGroups", "proxmox", "stateDir", "template", "timezone",
}

// CheckKeys reports the keys in the nixlab namespace that nixlab does not
// read (a typo such as nixlab:nodeGroup would otherwise be ignored
// silently), each with the known key it most likely means. Keys of other
// namespaces (provider settings, for example) are not nixlab's business.
func CheckKeys(keys []string) error {
	known := map[string]bool{}
	for _, k := range Keys {
		known[k] = true
	}
	var errs []error
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	for _, full := range sorted {
		name, ok := strings.CutPrefix(full, Namespace+":")
		if !ok || known[name] {
			continue
		}
		msg := "is not a nixlab setting"
		if guess := closestKey(name); guess != "" {
			msg += fmt.Sprintf("; did you mean nixlab:%s?", guess)
		}
		errs = append(errs, &KeyError{Key: full, Msg: msg + " (see the configuration reference in README.md)"})
	}
	return errors.Join(errs...)
}

// closestKey is the known key nearest to name by edit distance, when it is
// close enough to be a typo.
func closestKey(name string) string {
	best, bestDist := "", len(name)/2+1
	for _, k := range Keys {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// LookupFunc returns the raw value of a fully qualified config key
// ("nixlab:proxmox") and whether it is set. Object and array values are JSON.
type LookupFunc func(key string) (string, bool)

// LoadConfig reads every nixlab:* key of the current stack, applies the
// defaults and validates the result. The API token must be stored as a
// secret. Errors name the key and say how to fix it.
func LoadConfig(ctx *pulumi.Context) (*Config, error) {
	return LoadConfigIn(ctx, "")
}

// LoadConfigIn is LoadConfig with relative paths in the config resolved
// against dir before validation (see Config.ResolvePaths); "" keeps them
// relative to the working directory.
func LoadConfigIn(ctx *pulumi.Context, dir string) (*Config, error) {
	// The Pulumi CLI hands the program its config as JSON in PULUMI_CONFIG
	// (the only place the keys can be listed): catch misspelled keys.
	if raw := os.Getenv("PULUMI_CONFIG"); raw != "" {
		var all map[string]any
		if err := json.Unmarshal([]byte(raw), &all); err == nil {
			keys := make([]string, 0, len(all))
			for k := range all {
				keys = append(keys, k)
			}
			if err := CheckKeys(keys); err != nil {
				return nil, err
			}
		}
	}
	if _, ok := ctx.GetConfig(Namespace + ":apiToken"); ok && !ctx.IsConfigSecret(Namespace+":apiToken") {
		return nil, &KeyError{Key: Namespace + ":apiToken", Msg: "is stored in plain text; store it as a secret: pulumi config set --secret nixlab:apiToken 'user@realm!tokenid=uuid'"}
	}
	return ParseConfigIn(ctx.GetConfig, dir)
}

// ParseConfig builds a Config from raw key values (as a stack file holds
// them), applies defaults and validates it. It needs no Pulumi engine.
func ParseConfig(lookup LookupFunc) (*Config, error) {
	return ParseConfigIn(lookup, "")
}

// ParseConfigIn is ParseConfig with relative paths resolved against dir
// (when not empty) before validation.
func ParseConfigIn(lookup LookupFunc, dir string) (*Config, error) {
	c := &Config{}
	var errs []error
	decode := func(key string, into any) {
		raw, ok := lookup(Namespace + ":" + key)
		if !ok {
			return
		}
		if err := decodeValue(raw, into); err != nil {
			errs = append(errs, keyErrorFrom(key, err))
		}
	}
	var token string
	decode("clusterName", &c.ClusterName)
	decode("proxmox", &c.Proxmox)
	decode("apiToken", &token)
	decode("template", &c.Template)
	decode("nfs", &c.NFS)
	decode("network", &c.Network)
	decode("adminUser", &c.AdminUser)
	decode("timezone", &c.Timezone)
	decode("extraAuthorizedKeys", &c.ExtraAuthorizedKeys)
	decode("nodeGroups", &c.NodeGroups)
	decode("stateDir", &c.StateDir)
	c.APIToken = Secret(token)
	// nixlab:nfs defaults to {} in Pulumi.yaml (the Pulumi CLI refuses a
	// declared key without a default and no value): empty means no NFS.
	if c.NFS != nil && c.NFS.Server == "" && c.NFS.Export == "" && c.NFS.MountPoint == "" && len(c.NFS.Options) == 0 {
		c.NFS = nil
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.ApplyDefaults()
	if dir != "" {
		c.ResolvePaths(dir)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeValue reads a raw config value into the target. Plain strings are
// stored unquoted by Pulumi; objects, arrays and numbers are JSON.
func decodeValue(raw string, into any) error {
	if s, ok := into.(*string); ok {
		*s = raw
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the value")
	}
	return nil
}

// keyErrorFrom turns a JSON decoding error into a KeyError naming the key
// (down to the field where the decoder says which one).
func keyErrorFrom(key string, err error) *KeyError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		full := key
		if typeErr.Field != "" {
			full += "." + typeErr.Field
		}
		return &KeyError{Key: Namespace + ":" + full, Msg: fmt.Sprintf("expected %s, got a %s", describeType(typeErr.Type.Kind().String()), typeErr.Value)}
	case errors.As(err, &syntaxErr):
		return &KeyError{Key: Namespace + ":" + key, Msg: fmt.Sprintf("is not valid structured config (%v); set it as YAML in the stack file", err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &KeyError{Key: Namespace + ":" + key, Msg: fmt.Sprintf("unknown setting %q; check the spelling against the configuration reference in README.md", field)}
	default:
		return &KeyError{Key: Namespace + ":" + key, Msg: err.Error()}
	}
}

func describeType(kind string) string {
	switch kind {
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return kind
	}
}
