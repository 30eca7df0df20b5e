package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nixlab/nixlab/stack"
)

// tokenKey is the one config key nixlab reads as a secret.
const tokenKey = stack.Namespace + ":apiToken"

// placeholderToken stands in for the API token, which the plan never
// decrypts (or which is not set yet). It is well-formed, so validation
// passes, and it reaches the graph only as a secret.
const placeholderToken = "nixlab-plan@pve!placeholder=00000000-0000-0000-0000-000000000000"

// warnTokenUnset is the warning for a stack without an API token.
const warnTokenUnset = "nixlab:apiToken is not set; `pulumi up` will refuse until you run `pulumi config set --secret nixlab:apiToken ...`"

// project is what the plan needs from Pulumi.yaml.
type project struct {
	name string
	// defaults are the declared keys' defaults as the engine hands them
	// to programs (strings verbatim, everything else JSON).
	defaults map[string]string
}

// readProject reads Pulumi.yaml (or Pulumi.yml) in dir.
func readProject(dir string) (*project, error) {
	var data []byte
	var path string
	var err error
	for _, name := range []string{"Pulumi.yaml", "Pulumi.yml"} {
		path = filepath.Join(dir, name)
		if data, err = os.ReadFile(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no Pulumi.yaml in %s: run the plan in the nixlab project directory: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the project file: %w", err)
	}
	var doc struct {
		Name   string               `yaml:"name"`
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Name == "" {
		return nil, fmt.Errorf("%s: the project has no name", path)
	}
	p := &project{name: doc.Name, defaults: map[string]string{}}
	for key, node := range doc.Config {
		full := key
		if !strings.Contains(key, ":") {
			full = doc.Name + ":" + key
		}
		def, ok, err := declaredDefault(&node)
		if err != nil {
			return nil, fmt.Errorf("%s: config %s: %w", path, key, err)
		}
		if ok {
			p.defaults[full] = def
		}
	}
	return p, nil
}

// declaredDefault returns the default of one Pulumi.yaml config entry:
// either a declaration {type, description, default, ...} (or {value: ...})
// or a bare value, the shorthand for a default.
func declaredDefault(node *yaml.Node) (string, bool, error) {
	var v any
	if err := node.Decode(&v); err != nil {
		return "", false, err
	}
	if entry, ok := v.(map[string]any); ok && isDeclaration(entry) {
		d, has := entry["default"]
		if !has {
			d, has = entry["value"]
		}
		if !has {
			return "", false, nil
		}
		v = d
	}
	s, err := rawValue(v)
	return s, err == nil, err
}

// isDeclaration reports whether a config entry's map is a declaration
// rather than an object-valued default.
func isDeclaration(entry map[string]any) bool {
	for _, k := range []string{"type", "description", "default", "secret", "items", "value"} {
		if _, ok := entry[k]; ok {
			return true
		}
	}
	return false
}

// rawValue renders a config value as the Pulumi engine passes it to a
// program: strings verbatim, everything else as JSON.
func rawValue(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// stackConfig is the config fed to the program: plain values, which keys
// are secrets, and the warnings found on the way.
type stackConfig struct {
	values   map[string]string
	secrets  []string
	warnings []string
}

// lookup is a stack.LookupFunc over the values.
func (c *stackConfig) lookup(key string) (string, bool) {
	v, ok := c.values[key]
	return v, ok
}

// stackFilePath is Pulumi.<stack>.yaml in dir.
func stackFilePath(dir, stackName string) string {
	return filepath.Join(dir, "Pulumi."+stackName+".yaml")
}

// readStackConfig reads Pulumi.<stack>.yaml and merges it with the project
// defaults as the engine would. Encrypted values are never decrypted: the
// API token is replaced by a placeholder secret, any other encrypted
// nixlab key is an error (nixlab reads no other secret).
func readStackConfig(dir, stackName string, proj *project) (*stackConfig, error) {
	path := stackFilePath(dir, stackName)
	sf, err := stack.ReadStackFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stack file %s does not exist; create the stack with `pulumi stack init %s` in %s and set its config, or copy Pulumi.lab.yaml to Pulumi.%s.yaml and edit it: %w",
			path, stackName, dir, stackName, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading stack %s: %w", stackName, err)
	}
	c := &stackConfig{values: map[string]string{}}
	for k, v := range proj.defaults {
		c.values[k] = v
	}
	raw := sf.Values()
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	if err := stack.CheckKeys(keys); err != nil {
		errs = append(errs, err)
	}
	nsPrefix := proj.name + ":"
	for _, key := range keys {
		if sf.IsSecret(key) {
			switch {
			case key == tokenKey:
				// Substituted below; the ciphertext goes nowhere.
			case strings.HasPrefix(key, nsPrefix):
				errs = append(errs, &stack.KeyError{Key: key, Msg: "is encrypted, and nixlab reads no secret but nixlab:apiToken; store it in plain text"})
			}
			continue
		}
		c.values[key] = raw[key]
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stack %s (%s) is invalid:\n%w", stackName, path, err)
	}
	switch _, plain := raw[tokenKey]; {
	case sf.IsSecret(tokenKey):
		c.values[tokenKey] = placeholderToken
		c.secrets = append(c.secrets, tokenKey)
	case !plain:
		c.values[tokenKey] = placeholderToken
		c.secrets = append(c.secrets, tokenKey)
		c.warnings = append(c.warnings, warnTokenUnset)
	default:
		// A plain-text token is validated as it is and then refused by
		// stack.LoadConfig, exactly as `pulumi up` refuses it.
	}
	return c, nil
}
