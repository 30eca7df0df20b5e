package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"
)

// StackFile is the config of a Pulumi.<stack>.yaml read without the Pulumi
// CLI, key for key and value for value as the CLI hands it to the program:
// the values come from the Pulumi SDK's own loader
// (sdk/go/common/workspace.LoadProjectStackBytes, v3.274.1), which puts
// keys written without a namespace into the project's namespace
// (stackConfigNamespacedWithProject: `clusterName` is `nixlab:clusterName`),
// accepts the old `nixlab:config:clusterName` form (resource/config.ParseKey)
// and turns an empty YAML value into "" (a null config.Value). Before that,
// the file is checked line by line, so that its problems carry line
// numbers. Secret values stay encrypted: only the fact that they are set
// and secret is known.
type StackFile struct {
	path    string
	project string
	values  map[string]string
	secrets map[string]bool
	objects map[string]bool
	// lines maps every key, and every setting below one
	// (nixlab:template.vmId, nixlab:network.dns[0]), to its line.
	lines map[string]int
	// missing are keys Pulumi.yaml declares without a default that the
	// stack does not set (ReadStackConfig only).
	missing []string
}

// ReadStackFile reads the `config:` section of a Pulumi stack file. The
// project (the namespace of unprefixed keys) is read from the Pulumi.yaml
// next to the file; without one it is nixlab. Object and array values
// become JSON, as the Pulumi engine hands them to programs.
func ReadStackFile(path string) (*StackFile, error) {
	project := Namespace
	if projPath, ok := projectFile(filepath.Dir(path)); ok {
		proj, err := workspace.LoadProject(projPath)
		if err != nil {
			return nil, fmt.Errorf("reading the project file: %w", err)
		}
		project = proj.Name.String()
	}
	return ReadStackFileFor(path, project)
}

// projectFile is the Pulumi.yaml (or Pulumi.yml) in dir, if there is one.
func projectFile(dir string) (string, bool) {
	for _, name := range []string{"Pulumi.yaml", "Pulumi.yml"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// ReadStackFileFor is ReadStackFile for a stack of the named project.
func ReadStackFileFor(path, project string) (*StackFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// The CLI strips a UTF-8 byte-order mark (workspace.readFileStripUTF8BOM).
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sf := &StackFile{
		path: path, project: project, values: map[string]string{}, secrets: map[string]bool{},
		objects: map[string]bool{}, lines: map[string]int{},
	}
	if err := sf.scan(data); err != nil {
		return nil, err
	}
	ps, err := workspace.LoadProjectStackBytes(nil, &workspace.Project{Name: tokens.PackageName(project)},
		data, path, encoding.YAML)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for k, v := range ps.Config {
		s, err := v.Value(config.NopDecrypter)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: the value cannot be read; write it as plain YAML", path, k.String())
		}
		sf.values[k.String()] = s
		sf.secrets[k.String()] = v.Secure()
		sf.objects[k.String()] = v.Object()
	}
	return sf, nil
}

// scan checks the file's YAML node by node: syntax (yaml.v3 errors carry
// the line), the shape of the config section, keys the CLI would not
// parse, a key set twice (once with and once without the namespace),
// numbers a program cannot read (.inf, .nan), and it records every
// setting's line.
func (sf *StackFile) scan(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 gives some errors no line, and others the line before
		// the one at fault: report the first line at which the file
		// fails so, in the file:line: form of every other message.
		msg := yamlLineRe.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		if line := firstFailingLine(data, err.Error()); line > 0 {
			return fmt.Errorf("%s:%d: %s; %s", sf.path, line, msg, yamlHint(line))
		}
		return fmt.Errorf("%s: %s; %s", sf.path, msg, yamlHint(0))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // an empty file: no config
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return sf.lineError(root, "a stack file is a YAML mapping with a config: section")
	}
	var cfg *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "config" {
			cfg = resolve(root.Content[i+1])
		}
	}
	if cfg == nil || cfg.Tag == "!!null" {
		return nil
	}
	if cfg.Kind != yaml.MappingNode {
		return sf.lineError(cfg, "config: must be a mapping of keys to values")
	}
	var errs []error
	firstAs := map[string]*yaml.Node{}
	for i := 0; i+1 < len(cfg.Content); i += 2 {
		k, v := cfg.Content[i], resolve(cfg.Content[i+1])
		full, ok := fullKey(k.Value, sf.project)
		if !ok {
			errs = append(errs, sf.lineError(k, msgf("%q is not a config key; write %s:<name> (or <name> alone)", k.Value, sf.project)))
			continue
		}
		if prev, dup := firstAs[full]; dup {
			msg := msgf("%s is set twice, here and on line %d; keep one", full, prev.Line)
			if prev.Value != k.Value {
				msg = msgf("%s is set twice: as %q on line %d and as %q here (a key without a namespace belongs to project %s); keep one",
					full, prev.Value, prev.Line, k.Value, sf.project)
			}
			errs = append(errs, sf.lineError(k, msg))
			continue
		}
		firstAs[full] = k
		sf.lines[full] = k.Line
		errs = append(errs, sf.scanValue(full, v)...)
	}
	return errors.Join(errs...)
}

// yamlHint is the fix for a YAML syntax error near line (0: unknown).
func yamlHint(line int) string {
	near := ""
	if line > 0 {
		near = fmt.Sprintf(" near line %d", line)
	}
	return "check indentation and quoting" + near + " (keys under config: are indented two spaces, with spaces, not tabs; quote values holding ': ' or starting with [ { * & ! | > ' \" % @ or `)"
}

// yamlLineRe is yaml.v3's own line prefix of an error message.
var yamlLineRe = regexp.MustCompile(`^line [0-9]+: `)

// firstFailingLine is the number of the first line at which data, read up
// to and including it, fails to parse with the message msg; 0 if none does.
func firstFailingLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var prefix []byte
	for i, l := range lines {
		prefix = append(prefix, l...)
		var n yaml.Node
		if err := yaml.Unmarshal(prefix, &n); err != nil && err.Error() == msg {
			return i + 1
		}
	}
	return 0
}

// fullKey is the namespaced form of a stack file key, as
// config.ParseKey and stackConfigNamespacedWithProject read it.
func fullKey(key, project string) (string, bool) {
	switch parts := strings.Split(key, ":"); {
	case key == "":
		return "", false
	case len(parts) == 1:
		return project + ":" + key, true
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return key, true
	case len(parts) == 3 && parts[1] == "config" && parts[0] != "" && parts[2] != "":
		return parts[0] + ":" + parts[2], true
	default:
		return "", false
	}
}

// scanValue records the lines of the settings inside a value and reports
// numbers no program can read.
func (sf *StackFile) scanValue(key string, n *yaml.Node) []error {
	n = resolve(n)
	var errs []error
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Value == "<<" { // a merge key: its settings land here
				errs = append(errs, sf.scanValue(key, n.Content[i+1])...)
				continue
			}
			child := key + "." + k.Value
			sf.lines[child] = k.Line
			errs = append(errs, sf.scanValue(child, n.Content[i+1])...)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			child := fmt.Sprintf("%s[%d]", key, i)
			sf.lines[child] = item.Line
			errs = append(errs, sf.scanValue(child, item)...)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!float" {
			var f float64
			if err := n.Decode(&f); err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
				errs = append(errs, sf.lineError(n, fmt.Sprintf("%s: %s is not a number nixlab can use; write a whole number", key, n.Value)))
			}
		}
	}
	return errs
}

// resolve follows YAML aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (sf *StackFile) lineError(n *yaml.Node, msg string) error {
	return fmt.Errorf("%s:%d: %s", sf.path, n.Line, msg)
}

// ReadStackConfig reads Pulumi.<stack>.yaml in dir and merges it with the
// project's declared config as the Pulumi CLI does before it runs the
// program (pulumi/pulumi pkg/workspace/config.go, mergeConfig): a declared
// key the stack does not set takes its default (strings and other
// primitives as fmt %v, everything else as JSON, createConfigValue), and a
// typed key the stack sets must have its declared type
// (sdk/go/common/workspace.ValidateConfigValue). Declared keys without a
// default that the stack does not set are listed by Missing.
func ReadStackConfig(dir, stackName string) (*StackFile, error) {
	projPath, ok := projectFile(dir)
	if !ok {
		return nil, fmt.Errorf("no Pulumi.yaml in %s: run this in the nixlab project directory: %w", dir, fs.ErrNotExist)
	}
	proj, err := workspace.LoadProject(projPath)
	if err != nil {
		return nil, fmt.Errorf("reading the project file: %w", err)
	}
	if proj.Name.String() != Namespace {
		return nil, projectNameError(proj.Name.String())
	}
	sf, err := ReadStackFileFor(filepath.Join(dir, "Pulumi."+stackName+".yaml"), proj.Name.String())
	if err != nil {
		return nil, err
	}
	return sf, sf.applyProject(proj)
}

// applyProject is the CLI's merge of project config into stack config.
func (sf *StackFile) applyProject(proj *workspace.Project) error {
	names := make([]string, 0, len(proj.Config))
	for k := range proj.Config {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []*KeyError
	for _, name := range names {
		decl := proj.Config[name]
		full, ok := fullKey(name, proj.Name.String())
		if !ok {
			continue
		}
		raw, set := sf.values[full]
		if set {
			if decl.IsExplicitlyTyped() && !sf.secrets[full] && !hasDeclaredType(decl, raw, sf.objects[full]) {
				errs = append(errs, &KeyError{Key: full, Msg: fmt.Sprintf("Pulumi.yaml declares it as %s; %s",
					workspace.InferFullTypeName(*decl.Type, decl.Items), declaredTypeFix(*decl.Type))})
			}
			continue
		}
		def := decl.Default
		if def == nil {
			def = decl.Value
		}
		if def == nil {
			sf.missing = append(sf.missing, full)
			continue
		}
		s, err := defaultValue(def)
		if err != nil {
			return fmt.Errorf("Pulumi.yaml: config %s: the default cannot be read: %w", name, err)
		}
		sf.values[full] = s
	}
	if len(errs) == 0 {
		return nil
	}
	return sf.Locate(joinKeyErrors(errs))
}

// hasDeclaredType is validateStackConfigValue's type check: an object
// value's JSON is decoded, a plain value is a string.
func hasDeclaredType(decl workspace.ProjectConfigType, raw string, object bool) bool {
	var content any = raw
	if object {
		if err := json.Unmarshal([]byte(raw), &content); err != nil {
			return false
		}
	}
	return workspace.ValidateConfigValue(*decl.Type, decl.Items, content)
}

func declaredTypeFix(typ string) string {
	switch typ {
	case "object":
		return "write it as a YAML mapping (key: value lines indented under it)"
	case "array":
		return "write it as a YAML list (one `- item` line each)"
	case "boolean":
		return "write true or false"
	case "integer":
		return "write a whole number"
	default:
		return "write a plain value"
	}
}

// defaultValue renders a declared default as createConfigValue does.
func defaultValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int, bool:
		return fmt.Sprintf("%v", v), nil
	}
	simple, err := workspace.SimplifyMarshalledValue(v)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(simple)
	return string(b), err
}

// Lookup returns a key's raw value (ciphertext for secrets).
func (s *StackFile) Lookup(key string) (string, bool) {
	v, ok := s.values[key]
	return v, ok
}

// IsSecret says whether the key holds an encrypted value.
func (s *StackFile) IsSecret(key string) bool { return s.secrets[key] }

// Values returns a copy of every key's raw value.
func (s *StackFile) Values() map[string]string {
	out := make(map[string]string, len(s.values))
	for k, v := range s.values {
		out[k] = v
	}
	return out
}

// Missing lists the declared keys without a default that the stack does
// not set (after ReadStackConfig), sorted.
func (s *StackFile) Missing() []string { return append([]string(nil), s.missing...) }

// Path is the stack file's path.
func (s *StackFile) Path() string { return s.path }

// Line is the line of a key or of a setting below one
// ("nixlab:nodeGroups.workers.count"); for a setting the file does not
// hold, the line of the nearest enclosing one; 0 when none is in the file.
func (s *StackFile) Line(key string) int {
	for key != "" {
		if l, ok := s.lines[key]; ok {
			return l
		}
		cut := strings.LastIndexAny(key, ".[")
		if cut < 0 {
			return 0
		}
		key = key[:cut]
	}
	return 0
}

// Locate sets File and Line of every *KeyError in err (a single error or
// an errors.Join tree) to where the key is in this file, so that messages
// point at the line to fix. It returns err.
func (s *StackFile) Locate(err error) error {
	for _, ke := range keyErrors(err) {
		if ke.Line == 0 {
			if l := s.Line(ke.Key); l > 0 {
				ke.File, ke.Line = s.path, l
			}
		}
	}
	return err
}

// Set replaces a key's value with a plain one (the plan puts a placeholder
// in place of the encrypted API token this way).
func (s *StackFile) Set(key, value string) {
	s.values[key] = value
	s.secrets[key] = false
	s.objects[key] = false
}

// Keys lists every key the file sets (after ReadStackConfig: and every
// declared default), sorted.
func (s *StackFile) Keys() []string {
	keys := make([]string, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseStackFile is what `pulumi up` does with this stack's config, without
// the engine: refuse unknown nixlab keys (CheckKeys) and check the others
// (ParseConfigIn with relative paths against dir), reporting both at once.
// Errors point at the file's lines.
func ParseStackFile(sf *StackFile, dir string) (*Config, error) {
	unknown := CheckKeys(sf.Keys())
	cfg, err := ParseConfigIn(sf.Lookup, dir)
	if unknown != nil || err != nil {
		return nil, sf.Locate(joinSorted(unknown, err))
	}
	return cfg, nil
}
