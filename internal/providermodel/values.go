package providermodel

import (
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// deepCopy copies a property value, arrays and objects included, keeping
// secret wrappers.
func deepCopy(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(deepCopy(v.SecretValue().Element))
	case v.IsArray():
		out := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = deepCopy(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = deepCopy(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

// unwrap strips secret wrappers at every level: a diff compares values,
// not their secrecy.
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return unwrap(v.SecretValue().Element)
	case v.IsArray():
		out := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = unwrap(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = unwrap(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

// unionKeys lists the keys of a and b, sorted.
func unionKeys(a, b resource.PropertyMap) []resource.PropertyKey {
	var keys []resource.PropertyKey
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// object returns the object at key of m (unwrapped of a secret), or nil.
func object(m resource.PropertyMap, key resource.PropertyKey) resource.PropertyMap {
	v, ok := m[key]
	if !ok {
		return nil
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsObject() {
		return nil
	}
	return v.ObjectValue()
}

// objects returns the objects of the array at key of m.
func objects(m resource.PropertyMap, key resource.PropertyKey) []resource.PropertyMap {
	v, ok := m[key]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []resource.PropertyMap
	for _, e := range v.ArrayValue() {
		if e.IsObject() {
			out = append(out, e.ObjectValue())
		}
	}
	return out
}

// stringsAt returns the strings of the array at key of m.
func stringsAt(m resource.PropertyMap, key resource.PropertyKey) []string {
	v, ok := m[key]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// stringAt returns the string at key of m, or "".
func stringAt(m resource.PropertyMap, key resource.PropertyKey) string {
	if v, ok := m[key]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// setDefault sets m[key] to v when m has no (or a null) value there.
func setDefault(m resource.PropertyMap, key resource.PropertyKey, v resource.PropertyValue) {
	if cur, ok := m[key]; !ok || cur.IsNull() {
		m[key] = v
	}
}

// isZero reports whether v is what the Terraform plugin SDK v2 treats as
// unset: null, "", 0, false or an empty list. The SDK does not tell an
// unset optional primitive from its zero value, so such a pair is no diff
// (helper/schema schemaMap.diffString and diffList in
// terraform-plugin-sdk v2, used by every bpg resource). An object (a
// MaxItems=1 block) is never zero: a block with no attributes set is still a
// block (its count is 1).
func isZero(v resource.PropertyValue) bool {
	switch {
	case v.IsNull():
		return true
	case v.IsString():
		return v.StringValue() == ""
	case v.IsNumber():
		return v.NumberValue() == 0
	case v.IsBool():
		return !v.BoolValue()
	case v.IsArray():
		return len(v.ArrayValue()) == 0
	}
	return false
}

var indexRe = regexp.MustCompile(`\[\d+\]`)

// matchesAny reports whether path is one of patterns or below one of them;
// a pattern's `[*]` matches any index.
func matchesAny(path string, patterns []string) bool {
	p := indexRe.ReplaceAllString(path, "[*]")
	for _, pat := range patterns {
		if p == pat || strings.HasPrefix(p, pat+".") || strings.HasPrefix(p, pat+"[") {
			return true
		}
	}
	return false
}

// underLiteral reports whether path is one of paths or below one of them,
// comparing literally (indices included), as the bridge matches ignored
// paths (computeIgnoreChanges, pkg/tfbridge/diff.go, bridge v3.99.0).
func underLiteral(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// DeepCopy returns a copy of m that shares nothing with it (secret
// wrappers kept), for callers that edit inputs or states.
func DeepCopy(m resource.PropertyMap) resource.PropertyMap {
	return deepCopy(resource.NewObjectProperty(m)).ObjectValue()
}
