package stack

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// withSetting returns the lab's raw values with one setting (a dotted
// path, * for the workers group) set to v, as a stack file would hold it.
func withSetting(t *testing.T, path string, v any) LookupFunc {
	t.Helper()
	base := labLookup(t, nil)
	values := map[string]string{}
	for _, k := range Keys {
		if raw, ok := base(Namespace + ":" + k); ok {
			values[Namespace+":"+k] = raw
		}
	}
	parts := strings.Split(strings.Replace(path, "*", "workers", 1), ".")
	top := Namespace + ":" + parts[0]
	if len(parts) == 1 {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s: top-level settings here are strings", path)
		}
		values[top] = s
	} else {
		var tree map[string]any
		if raw, ok := values[top]; ok {
			if err := json.Unmarshal([]byte(raw), &tree); err != nil {
				t.Fatal(err)
			}
		} else {
			tree = map[string]any{}
		}
		if parts[0] == "nfs" && len(tree) == 0 {
			tree = map[string]any{"server": "nas", "export": "/v"}
		}
		node := tree
		for _, p := range parts[1 : len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = v
		b, err := json.Marshal(tree)
		if err != nil {
			t.Fatal(err)
		}
		values[top] = string(b)
	}
	return func(k string) (string, bool) { s, ok := values[k]; return s, ok }
}

// errorFor is the message of the KeyError for key, or "".
func errorFor(err error, key string) string {
	for _, ke := range keyErrors(err) {
		if ke.Key == key {
			return ke.Msg
		}
	}
	return ""
}

// Every integer setting whose 0 is no valid value refuses an explicit 0
// (it would otherwise become the default), naming the range and default.
func TestExplicitZeroIsRefusedForEveryIntSetting(t *testing.T) {
	if len(explicitZeroInts) < 10 {
		t.Fatalf("only %d integer settings checked", len(explicitZeroInts))
	}
	for path, rule := range explicitZeroInts {
		t.Run(path, func(t *testing.T) {
			_, err := ParseConfig(withSetting(t, path, 0))
			key := Namespace + ":" + strings.Replace(path, "*", "workers", 1)
			msg := errorFor(err, key)
			if !strings.Contains(msg, "0 is out of range") {
				t.Fatalf("no refusal of an explicit 0 for %s: %v", key, err)
			}
			if rule.def != "" && !strings.Contains(msg, "default ("+rule.def+")") {
				t.Errorf("message %q does not name the default %s", msg, rule.def)
			}
		})
	}
}

// Every string setting refuses an explicit "" (an empty YAML value reaches
// the program as ""), naming the default where there is one.
func TestExplicitEmptyStringIsRefusedForEveryStringSetting(t *testing.T) {
	paths := stringPaths("", reflect.TypeOf(Config{}))
	if len(paths) < 20 {
		t.Fatalf("only %d string settings found: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			_, err := ParseConfig(withSetting(t, path, ""))
			key := Namespace + ":" + strings.Replace(path, "*", "workers", 1)
			msg := errorFor(err, key)
			if !strings.Contains(msg, "is empty") && !strings.Contains(msg, "is not set") {
				t.Fatalf("no refusal of an explicit \"\" for %s: %v", key, err)
			}
			if def, ok := stringDefaults[path]; ok && !strings.Contains(msg, def) {
				t.Errorf("message %q does not name the default %s", msg, def)
			}
		})
	}
}

// stringPaths lists the string settings of a config type (lists and
// pointers to non-structs left out), * for a map key.
func stringPaths(prefix string, typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		var out []string
		for i := 0; i < typ.NumField(); i++ {
			name := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, stringPaths(p, typ.Field(i).Type)...)
		}
		return out
	case reflect.Map:
		return stringPaths(prefix+".*", typ.Elem())
	case reflect.String:
		return []string{prefix}
	}
	return nil
}

func TestNestedNullIsRefused(t *testing.T) {
	for _, path := range []string{"template.vmId", "proxmox.insecure", "nodeGroups.*.count", "network.dns", "template.swapSizeGb"} {
		_, err := ParseConfig(withSetting(t, path, nil))
		key := Namespace + ":" + strings.Replace(path, "*", "workers", 1)
		if msg := errorFor(err, key); !strings.Contains(msg, "has no value") {
			t.Errorf("%s: null not refused: %v", key, err)
		}
	}
}

// Every key nixlab declares is read: a bad value under each is reported
// under that key (a key missing from ParseConfigIn would pass silently).
func TestEveryKeyIsRead(t *testing.T) {
	for _, k := range Keys {
		key := Namespace + ":" + k
		_, err := ParseConfig(labLookup(t, map[string]string{key: "bad value\n"}))
		if errorFor(err, key) == "" {
			t.Errorf("a bad %s is not reported under its key: %v", key, err)
		}
	}
}
