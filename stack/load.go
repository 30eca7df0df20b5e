package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is the config namespace of every nixlab key.
const Namespace = "nixlab"

// Keys lists every top-level config key nixlab reads, without the namespace.
// Pulumi.yaml declares each of them.
var Keys = []string{
	"adminUser", "apiToken", "clusterName", "extraAuthorizedKeys", "kubernetes",
	"network", "nfs", "nodeGroups", "proxmox", "stateDir", "template", "timezone", "updates",
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
		if guess := closest(name, Keys); guess != "" {
			msg += fmt.Sprintf("; did you mean nixlab:%s?", guess)
		}
		errs = append(errs, &KeyError{Key: full, Msg: msg + " (see the configuration reference in README.md)"})
	}
	return errors.Join(errs...)
}

// closest is the candidate nearest to name by edit distance, when it is
// close enough to be a typo ("" otherwise).
func closest(name string, candidates []string) string {
	best, bestDist := "", len(name)/2+1
	for _, k := range candidates {
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
	cfg, err := loadConfig(ctx, dir)
	if err != nil {
		return nil, locateInStackFile(err, dir, ctx.Stack())
	}
	return cfg, nil
}

func loadConfig(ctx *pulumi.Context, dir string) (*Config, error) {
	if ctx.Project() != Namespace {
		return nil, projectNameError(ctx.Project())
	}
	// The Pulumi CLI hands the program its config as JSON in PULUMI_CONFIG
	// (the only place the keys can be listed): catch misspelled keys.
	var unknown error
	if raw := os.Getenv("PULUMI_CONFIG"); raw != "" {
		var all map[string]any
		if err := json.Unmarshal([]byte(raw), &all); err == nil {
			keys := make([]string, 0, len(all))
			for k := range all {
				keys = append(keys, k)
			}
			unknown = CheckKeys(keys)
		}
	}
	if _, ok := ctx.GetConfig(Namespace + ":apiToken"); ok && !ctx.IsConfigSecret(Namespace+":apiToken") {
		return nil, joinSorted(unknown, &KeyError{Key: Namespace + ":apiToken", Msg: "is stored in plain text; store it as a secret: pulumi config set --secret nixlab:apiToken 'user@realm!tokenid=uuid'"})
	}
	cfg, err := ParseConfigIn(ctx.GetConfig, dir)
	if unknown != nil || err != nil {
		return nil, joinSorted(unknown, err)
	}
	return cfg, nil
}

// joinSorted joins the KeyErrors of several errors, sorted by key (nil
// when there are none).
func joinSorted(errs ...error) error {
	var all []*KeyError
	for _, err := range errs {
		all = append(all, keyErrors(err)...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	return joinKeyErrors(all)
}

// projectNameError is the error for a Pulumi project not named nixlab:
// the program reads its settings from the nixlab namespace only, so the
// settings of a project named otherwise would be silently ignored.
func projectNameError(name string) error {
	return fmt.Errorf("Pulumi.yaml: the project is named %q; name it %s (name: %s): nixlab reads its settings as %s:<key>, so %s:clusterName and the other settings of a project named otherwise would be ignored (the stack name, not the project name, tells labs apart)",
		name, Namespace, Namespace, Namespace, name)
}

// locateInStackFile points the KeyErrors of err at their lines in
// Pulumi.<stack>.yaml of the project directory (dir, or the working
// directory under the Pulumi CLI), when that file can be read; otherwise
// err is returned as it is.
func locateInStackFile(err error, dir, stackName string) error {
	if dir == "" {
		dir = "."
	}
	if sf, readErr := ReadStackFile(filepath.Join(dir, "Pulumi."+stackName+".yaml")); readErr == nil {
		return sf.Locate(err)
	}
	return err
}

// ParseConfig builds a Config from raw key values (as a stack file holds
// them), applies defaults and validates it. It needs no Pulumi engine.
func ParseConfig(lookup LookupFunc) (*Config, error) {
	return ParseConfigIn(lookup, "")
}

// ParseConfigIn is ParseConfig with relative paths resolved against dir
// (when not empty) before validation.
//
// A key that is present is taken as given: an explicit 0 or "" (and an
// empty YAML value, which the Pulumi CLI hands over as "") is refused, not
// replaced by the default; only absent keys get defaults. Every problem is
// a *KeyError naming the full key, all of them at once.
func ParseConfigIn(lookup LookupFunc, dir string) (*Config, error) {
	c := &Config{}
	p := &rawParser{}
	get := func(key string) (string, bool) { return lookup(Namespace + ":" + key) }
	var token string
	for key, into := range map[string]*string{
		"clusterName": &c.ClusterName, "apiToken": &token, "adminUser": &c.AdminUser,
		"timezone": &c.Timezone, "stateDir": &c.StateDir,
	} {
		if raw, ok := get(key); ok {
			p.stringKey(key, raw, into)
		}
	}
	for key, into := range map[string]any{
		"proxmox": &c.Proxmox, "template": &c.Template, "nfs": &c.NFS, "network": &c.Network,
		"extraAuthorizedKeys": &c.ExtraAuthorizedKeys, "nodeGroups": &c.NodeGroups,
		"kubernetes": &c.Kubernetes, "updates": &c.Updates,
	} {
		if raw, ok := get(key); ok {
			p.objectKey(key, raw, into)
		}
	}
	c.APIToken = Secret(token)
	// nixlab:nfs defaults to {} in Pulumi.yaml (the Pulumi CLI refuses a
	// declared key without a default and no value): {} means no NFS.
	if c.NFS != nil && c.NFS.Server == "" && c.NFS.Export == "" && c.NFS.MountPoint == "" && c.NFS.Options == nil {
		c.NFS = nil
	}
	c.ApplyDefaults()
	if dir != "" {
		c.ResolvePaths(dir)
	}
	// A setting of the wrong type leaves its top-level key undecoded; the
	// values of the other keys are still checked, except where a check
	// depends on the undecoded key.
	validateErr := c.Validate()
	if len(p.errs) > 0 {
		validateErr = withoutUndecoded(validateErr, p.errs)
	}
	if err := joinKeyErrors(p.merge(validateErr)); err != nil {
		return nil, err
	}
	return c, nil
}

// dependsOn lists, for each top-level key, the other keys its checks read
// (node groups are checked against the template's disk, the network and
// the cluster name; the Kubernetes settings against the nodes, the network
// and the addresses of the NFS server and the Proxmox host; the held nodes
// of the updates against the node names).
var dependsOn = map[string][]string{
	"nodeGroups": {"template", "network", "clusterName"},
	"kubernetes": {"nodeGroups", "network", "nfs", "proxmox", "clusterName"},
	"updates":    {"nodeGroups", "clusterName"},
}

// topKey is the top-level key of a full key ("nixlab:template.vmId" is
// template).
func topKey(key string) string {
	name := strings.TrimPrefix(key, Namespace+":")
	if i := strings.IndexAny(name, ".["); i >= 0 {
		name = name[:i]
	}
	return name
}

// withoutUndecoded drops from err the errors about top-level keys that
// could not be decoded (structural errors are reported instead) and about
// keys whose checks depend on them.
func withoutUndecoded(err error, structural []*KeyError) error {
	failed := map[string]bool{}
	for _, e := range structural {
		failed[topKey(e.Key)] = true
	}
	var kept []*KeyError
	for _, e := range keyErrors(err) {
		top := topKey(e.Key)
		skip := failed[top]
		for _, dep := range dependsOn[top] {
			skip = skip || failed[dep]
		}
		if !skip {
			kept = append(kept, e)
		}
	}
	return joinKeyErrors(kept)
}
