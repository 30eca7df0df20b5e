package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// The implicit scalar resolvers that could turn a plain (unquoted) inventory
// value into something other than a string.
var (
	// PyYAML 6.0 lib/yaml/resolver.py, Resolver.add_implicit_resolver calls
	// (what ansible-core's yaml loader resolves with): bool, float, int,
	// merge, null, timestamp and value, verbatim but without re.X spacing.
	pyyamlResolvers = map[string]*regexp.Regexp{
		"bool":      regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`),
		"float":     regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`),
		"int":       regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`),
		"merge":     regexp.MustCompile(`^(?:<<)$`),
		"null":      regexp.MustCompile(`^(?:~|null|Null|NULL|)$`),
		"timestamp": regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`),
		"value":     regexp.MustCompile(`^(?:=)$`),
	}
	// The YAML 1.1 type repository's bool (https://yaml.org/type/bool.html)
	// also has y/Y/n/N, which PyYAML leaves out but other YAML 1.1 readers
	// of an inventory do not.
	yaml11SpecBool = regexp.MustCompile(`^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	// The YAML 1.2 core schema (spec 1.2.2, 10.3.2 tag resolution).
	yaml12Core = regexp.MustCompile(`^(?:null|Null|NULL|~|true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$`)
	// Bare words Python's ast.literal_eval (Ansible's INI _parse_value)
	// turns into non-strings: the constants; every other bare word is a
	// name it rejects, or starts with a digit, sign, quote or bracket.
	pythonConstant = regexp.MustCompile(`^(?:True|False|None)$`)
)

// resolvesAsNonString reports which reader would not read s back as the
// string s when written plainly.
func resolvesAsNonString(s string) []string {
	var why []string
	for tag, re := range pyyamlResolvers {
		if re.MatchString(s) {
			why = append(why, "PyYAML "+tag)
		}
	}
	if yaml11SpecBool.MatchString(s) {
		why = append(why, "YAML 1.1 bool")
	}
	if yaml12Core.MatchString(s) {
		why = append(why, "YAML 1.2 core")
	}
	if pythonConstant.MatchString(s) {
		why = append(why, "Python literal")
	}
	if strings.ContainsAny(s[:min(len(s), 1)], "0123456789+-") {
		why = append(why, "Python number or expression")
	}
	slices.Sort(why)
	return why
}

// trickyWords are values that look like booleans, nulls, numbers, dates or
// YAML/Python syntax, in the case variants the resolvers know and some they
// do not, plus look-alikes that are plain strings.
func trickyWords() []string {
	var words []string
	for _, w := range []string{"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none", "nil", "inf", "nan", "ok"} {
		words = append(words, w, strings.ToUpper(w), strings.ToUpper(w[:1])+w[1:])
		if len(w) > 1 {
			words = append(words, strings.ToLower(w[:1])+strings.ToUpper(w[1:])) // oFF: no resolver knows it
		}
	}
	words = append(words,
		"~", "", ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN",
		"0", "1", "-1", "+1", "0755", "0o17", "0x1F", "0b101", "1_000", "1e3", "1.5", ".5", "1.", "1.0e+3",
		"190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
		"=", "<<", "._5", ".e5", "_1", "y.", "yes.", "~x", "x~", "None.", "0755x",
	)
	slices.Sort(words)
	return slices.Compact(words)
}

// TestBareRefusesResolvedWords pins bare against every resolver: whatever
// a YAML 1.1 (PyYAML or spec) or YAML 1.2 reader or Python's literal_eval
// would read as anything but the same string must be quoted.
func TestBareRefusesResolvedWords(t *testing.T) {
	for _, w := range trickyWords() {
		why := resolvesAsNonString(w)
		if len(why) > 0 && bare(w) {
			t.Errorf("bare(%q) = true, but it resolves as %s", w, strings.Join(why, ", "))
		}
	}
	// The pins the issue names: an admin user off, y or n.
	for _, w := range []string{"off", "y", "n", "Off", "Y", "N", "OFF"} {
		if bare(w) {
			t.Errorf("bare(%q) = true", w)
		}
	}
}

// TestAnsibleKeepsTrickyWords renders every tricky word as a group
// variable, a host variable and (where it is a valid host name) a host
// name, in INI and YAML, and checks that the real ansible-inventory reads
// each back as exactly that string.
func TestAnsibleKeepsTrickyWords(t *testing.T) {
	bin := testutil.RequireTool(t, "ansible-inventory")
	words := trickyWords()
	words = append(words, `it's "quoted" #1; \x`, "a'b", `a"b`, "#x", ";x", "x #y")
	g := group{name: "tricky"}
	hostName := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	for i, w := range words {
		g.vars = append(g.vars, variable{fmt.Sprintf("g_%d", i), str(w)})
		g.hosts = append(g.hosts, host{name: fmt.Sprintf("h%d", i), vars: []variable{{"w", str(w)}}})
		if hostName.MatchString(w) && !slices.Contains([]string{"all", "ungrouped"}, w) {
			g.hosts = append(g.hosts, host{name: w, vars: []variable{{"w", str(w)}}})
		}
	}
	m := model{nest: true, groups: []group{g}}
	yamlText, err := renderYAML(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range formats {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			text := renderINI(m)
			if format == FormatYAML {
				text = yamlText
			}
			file := filepath.Join(t.TempDir(), "tricky."+string(format))
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, listed := ansibleInventory(t, bin, file, "--list")
			hostvars := hostvarsOf(t, listed)
			if len(hostvars) != len(g.hosts) {
				t.Errorf("ansible-inventory read %d hosts, want %d", len(hostvars), len(g.hosts))
			}
			for _, h := range g.hosts {
				vars, ok := hostvars[h.name]
				if !ok {
					t.Errorf("host %q missing", h.name)
					continue
				}
				if got, want := vars["w"], h.vars[0].val.s; got != want {
					t.Errorf("host %s: w = %#v (%T), want the string %q\n%s", h.name, got, got, want, lineOf(text, h.name))
				}
				for i, w := range words {
					if got := vars[fmt.Sprintf("g_%d", i)]; got != w {
						t.Errorf("group var g_%d = %#v (%T), want the string %q\n%s", i, got, got, w, lineOf(text, fmt.Sprintf("g_%d", i)))
					}
				}
			}
		})
	}
}

// lineOf returns the first line of text that starts with prefix (after
// indentation), for failure messages.
func lineOf(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}
