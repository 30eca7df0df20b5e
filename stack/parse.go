package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// rawParser turns raw config values (strings as the Pulumi engine hands them
// to a program: plain strings verbatim, everything else JSON) into a Config.
// Before the typed decoding it walks each value against the Config type, so
// that every problem names the full key (down to the group and field), says
// what was expected in the stack file's terms (a mapping, a list, a whole
// number), never shows Go or JSON internals, and never repeats a value it
// cannot know to be harmless. It records which settings were given, so that
// an explicit 0 or "" is refused instead of silently becoming the default.
type rawParser struct {
	// errs are structural problems: the Config cannot be decoded.
	errs []*KeyError
	// valueErrs are explicit zero or empty values: the Config decodes, but
	// these keys override Validate's message for the same key.
	valueErrs []*KeyError
	// unknown are settings nixlab does not read (a typo, mostly): the
	// Config decodes without them, so the values are still checked.
	unknown []*KeyError
}

// intRule is what an integer setting accepts and its default, for the
// message about an explicit 0. Keys use * for a node group name.
type intRule struct {
	lo, hi int
	def    string // "" when the setting has no default
}

// explicitZeroInts are the integer settings whose 0 is never valid; absent
// they take their default (or are reported as not set by Validate).
var explicitZeroInts = map[string]intRule{
	"proxmox.ssh.port":               {1, 65535, strconv.Itoa(DefaultSSHPort)},
	"template.vmId":                  {MinVMID, MaxVMID, strconv.Itoa(DefaultTemplateVMID)},
	"template.diskSizeGb":            {MinDiskSizeGB, MaxDiskSizeGB, strconv.Itoa(DefaultDiskSizeGB)},
	"template.installTimeoutMinutes": {MinInstallTimeout, MaxInstallTimeout, strconv.Itoa(DefaultInstallTimeoutMinutes)},
	"template.cores":                 {1, MaxCores, strconv.Itoa(DefaultTemplateCores)},
	"template.memoryMb":              {MinTemplateMemory, MaxMemoryMB, strconv.Itoa(DefaultTemplateMemoryMB)},
	"nodeGroups.*.vmIdStart":         {MinVMID, MaxVMID, ""},
	"nodeGroups.*.cores":             {1, MaxCores, strconv.Itoa(DefaultNodeCores)},
	"nodeGroups.*.memoryMb":          {MinNodeMemoryMB, MaxMemoryMB, strconv.Itoa(DefaultNodeMemoryMB)},
	"nodeGroups.*.diskSizeGb":        {MinDiskSizeGB, MaxDiskSizeGB, "the template's disk size"},
	"updates.maxUnavailable":         {1, MaxUnavailableBound, strconv.Itoa(DefaultMaxUnavailable)},
	"updates.drainTimeoutMinutes":    {MinRollTimeoutMinutes, MaxRollTimeoutMinutes, strconv.Itoa(DefaultDrainTimeoutMinutes)},
	"updates.healthTimeoutMinutes":   {MinRollTimeoutMinutes, MaxRollTimeoutMinutes, strconv.Itoa(DefaultHealthTimeoutMinutes)},
}

// stringDefaults are the defaults of string settings, for the message about
// an explicit "" (every string setting refuses "").
var stringDefaults = map[string]string{
	"clusterName":        DefaultClusterName,
	"adminUser":          DefaultAdminUser,
	"timezone":           DefaultTimezone,
	"stateDir":           DefaultStateDir,
	"proxmox.isoStorage": DefaultISOStorage,
	"proxmox.vmStorage":  DefaultVMStorage,
	"proxmox.bridge":     DefaultBridge,
	"proxmox.ssh.host":   "the endpoint's host",
	"proxmox.ssh.user":   DefaultSSHUser,
	"template.name":      DefaultTemplateName,
	"nfs.mountPoint":     DefaultNFSMountPoint,
	"network.mode":       NetworkDHCP,

	"kubernetes.controlPlaneEndpoint": "the single control plane's address",
	"kubernetes.podCidr":              DefaultPodCIDR,
	"kubernetes.serviceCidr":          DefaultServiceCIDR,
	"kubernetes.cni":                  DefaultCNI,
	"kubernetes.storage.className":    DefaultStorageClassName,
	"kubernetes.storage.subDir":       "csi-driver-nfs's, the volume's name",
	"kubernetes.storage.onDelete":     DefaultStorageOnDelete,
	"kubernetes.version":              "no version check",
}

// pattern replaces the node group name of a key with *.
func pattern(key string) string {
	if rest, ok := strings.CutPrefix(key, "nodeGroups."); ok {
		if _, field, ok := strings.Cut(rest, "."); ok {
			return "nodeGroups.*." + field
		}
	}
	return key
}

func (p *rawParser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, &KeyError{Key: Namespace + ":" + key, Msg: msgf(format, args...)})
}

func (p *rawParser) refuse(key, format string, args ...any) {
	p.valueErrs = append(p.valueErrs, &KeyError{Key: Namespace + ":" + key, Msg: msgf(format, args...)})
}

// emptyString reports an explicit "" for key.
func (p *rawParser) emptyString(key string) {
	switch def, ok := stringDefaults[pattern(key)]; {
	case key == "apiToken":
		p.refuse(key, "is empty; run `pulumi config set --secret nixlab:apiToken 'user@realm!tokenid=uuid'`")
	case ok:
		p.refuse(key, "is empty; set a value or remove the key to use the default (%s)", def)
	default:
		p.refuse(key, "is empty; set a value or remove the key")
	}
}

// stringKey reads a top-level string setting: the engine hands it verbatim.
func (p *rawParser) stringKey(key, raw string, into *string) {
	if raw == "" {
		p.emptyString(key)
		return
	}
	*into = raw
}

// objectKey reads a top-level structured setting (JSON) into into, a
// pointer to its Go type.
func (p *rawParser) objectKey(key, raw string, into any) {
	t := reflect.TypeOf(into).Elem()
	if raw == "" {
		p.fail(key, "has no value; %s, or remove the key to use the default", expected(t))
		return
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil || dec.More() {
		// A plain scalar where a mapping or list belongs: the engine
		// passes it verbatim, so it is not JSON. Its text is not shown.
		p.fail(key, "is a single value; %s", expected(t))
		return
	}
	before := len(p.errs)
	p.walk(key, tree, t)
	if len(p.errs) > before {
		return
	}
	// The tree matches the type: the typed decoding cannot fail.
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		p.fail(key, "cannot be read: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// expected says what a value of type t looks like in a stack file.
func expected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "write it as a YAML mapping (key: value lines indented under it)"
	case reflect.Slice:
		return "write it as a YAML list (one `- item` line each)"
	case reflect.Bool:
		return "write true or false"
	case reflect.Int:
		return "write a whole number"
	default:
		return "write a string"
	}
}

// describe names the kind of a decoded JSON value, showing numbers and
// booleans (never strings, which may be secrets).
func describe(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "the number " + v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		return "no value"
	}
}

// walk checks a decoded JSON value against the Go type at key.
func (p *rawParser) walk(key string, v any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		p.fail(key, "has no value; %s, or remove the key to use the default", expected(t))
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			p.fail(key, "expected a mapping, got %s; %s", describe(v), expected(t))
			return
		}
		for _, name := range sortedKeys(m) {
			f, ok := fieldByTag(t, name)
			if !ok {
				// The key of the unknown setting itself, so that the
				// message points at its line, not its parent's.
				msg := "unknown setting"
				if guess := closest(name, tagNames(t)); guess != "" {
					msg += "; did you mean " + guess + "?"
				}
				p.unknown = append(p.unknown, &KeyError{Key: Namespace + ":" + key + "." + name,
					Msg: msg + " (see the configuration reference in README.md)"})
				continue
			}
			p.walk(key+"."+name, m[name], f.Type)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			p.fail(key, "expected a mapping, got %s; %s", describe(v), expected(t))
			return
		}
		for _, name := range sortedKeys(m) {
			p.walk(key+"."+name, m[name], t.Elem())
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			p.fail(key, "expected a list, got %s; %s", describe(v), expected(t))
			return
		}
		for i, item := range items {
			p.walk(fmt.Sprintf("%s[%d]", key, i), item, t.Elem())
		}
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			p.fail(key, "expected a string, got %s; quote it", describe(v))
		} else if s == "" {
			p.emptyString(key)
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			p.fail(key, "expected a number, got %s; write a whole number without quotes", describe(v))
			return
		}
		i, err := strconv.ParseInt(n.String(), 10, 32)
		if err != nil {
			p.fail(key, "%s is not a whole number in range; write a whole number with digits only", n)
			return
		}
		if rule, ok := explicitZeroInts[pattern(key)]; ok && i == 0 {
			if rule.def == "" {
				p.refuse(key, "0 is out of range; use %d to %d", rule.lo, rule.hi)
			} else {
				p.refuse(key, "0 is out of range (it does not select the default); use %d to %d, or remove the key to use the default (%s)", rule.lo, rule.hi, rule.def)
			}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			p.fail(key, "expected true or false, got %s; write true or false without quotes", describe(v))
		}
	}
}

// fieldByTag finds the struct field with the given JSON name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.Split(f.Tag.Get("json"), ",")[0] == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// tagNames lists a struct's JSON field names.
func tagNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]; n != "" && n != "-" {
			names = append(names, n)
		}
	}
	return names
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// merge returns the structural errors and unknown settings, or else the
// unknown settings, the explicit-value errors and Validate's errors for
// other keys, sorted by key.
func (p *rawParser) merge(validateErr error) []*KeyError {
	out := append(append(append([]*KeyError(nil), p.errs...), p.unknown...), p.valueErrs...)
	covered := map[string]bool{}
	for _, e := range p.valueErrs {
		covered[e.Key] = true
	}
	for _, e := range keyErrors(validateErr) {
		if !covered[e.Key] {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// keyErrors flattens an error tree into its *KeyError leaves (other errors
// are wrapped in a KeyError without a key, so none is lost).
func keyErrors(err error) []*KeyError {
	if err == nil {
		return nil
	}
	if ke, ok := err.(*KeyError); ok {
		return []*KeyError{ke}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*KeyError
		for _, e := range j.Unwrap() {
			out = append(out, keyErrors(e)...)
		}
		return out
	}
	return []*KeyError{{Key: Namespace, Msg: err.Error()}}
}

// joinKeyErrors is errors.Join over KeyErrors (nil when there are none).
func joinKeyErrors(errs []*KeyError) error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
