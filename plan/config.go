package plan

import (
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

// project is what the plan needs from Pulumi.yaml: its name. Declared
// defaults and types are applied by stack.ReadStackConfig, as the CLI does.
type project struct {
	name string
}

// readProject reads the project name from Pulumi.yaml (or Pulumi.yml) in dir.
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
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Name == "" {
		return nil, fmt.Errorf("%s: the project has no name", path)
	}
	return &project{name: doc.Name}, nil
}

// stackConfig is the config fed to the program: plain values, which keys
// are secrets, and the warnings found on the way.
type stackConfig struct {
	values   map[string]string
	secrets  []string
	warnings []string
	// file is the stack file the values came from (nil for configs made
	// in Go): it places errors on their lines.
	file *stack.StackFile
	// keyErrs are unknown or wrongly encrypted nixlab keys: reported
	// together with the value checks of the other keys (BuildContext).
	keyErrs error
}

// locate points the *stack.KeyError values in err at their stack file lines.
func (c *stackConfig) locate(err error) error {
	if c.file == nil {
		return err
	}
	return c.file.Locate(err)
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

// readStackConfig reads Pulumi.<stack>.yaml and merges it with the project's
// declared config exactly as the Pulumi CLI does before it runs the program
// (stack.ReadStackConfig: unprefixed keys belong to the project, declared
// defaults and declared types apply), so `plan` and `pulumi up` read a stack
// file identically. Encrypted values are never decrypted: the API token is
// replaced by a placeholder secret, any other encrypted nixlab key is an
// error (nixlab reads no other secret).
func readStackConfig(dir, stackName string, proj *project) (*stackConfig, error) {
	path := stackFilePath(dir, stackName)
	sf, err := stack.ReadStackConfig(dir, stackName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stack file %s does not exist; create the stack with `pulumi stack init %s` in %s and set its config, or copy Pulumi.lab.yaml to Pulumi.%s.yaml and edit it: %w",
			path, stackName, dir, stackName, err)
	}
	if err != nil {
		if sf != nil {
			err = sf.Locate(err)
		}
		return nil, fmt.Errorf("stack %s (%s) is invalid:\n%w", stackName, path, err)
	}
	c := &stackConfig{values: map[string]string{}, file: sf}
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
	c.keyErrs = errors.Join(errs...)
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
