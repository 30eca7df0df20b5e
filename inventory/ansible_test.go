package inventory

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
)

// ansibleEnv is a hermetic environment for ansible-inventory: no user or
// site configuration, every default inventory plugin enabled (in particular
// ANSIBLE_INVENTORY_ENABLED is unset), state under dir, and a source that no
// plugin parses is an error instead of a warning.
func ansibleEnv(t *testing.T, dir string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ANSIBLE_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return append(env,
		"HOME="+dir,
		"ANSIBLE_CONFIG="+cfg, // empty: defaults, not /etc/ansible/ansible.cfg
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "remote-tmp"),
		"ANSIBLE_INVENTORY_UNPARSED_FAILED=1",
		"ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=1",
		"ANSIBLE_NOCOLOR=1",
	)
}

// ansibleInventory runs ansible-inventory on file with args and returns
// what it printed (stdout+stderr) and, with --list, the JSON it wrote.
func ansibleInventory(t *testing.T, bin, file string, args ...string) (printed string, listed map[string]any) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	args = append(args, "-i", file)
	list := slices.Contains(args, "--list")
	if list {
		args = append(args, "--output", out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir // no ansible.cfg from the working directory
	cmd.Env = ansibleEnv(t, dir)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("ansible-inventory %s: %v\n%s", strings.Join(args, " "), err, buf.String())
	}
	if strings.Contains(buf.String(), "[WARNING]") || strings.Contains(buf.String(), "[DEPRECATION") {
		t.Errorf("ansible-inventory %s warned:\n%s", strings.Join(args, " "), buf.String())
	}
	if list {
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&listed); err != nil {
			t.Fatalf("parse ansible-inventory JSON: %v\n%s", err, data)
		}
	}
	return buf.String(), listed
}

// groupTree is ansible-inventory's --list output without _meta.
type groupTree map[string]struct {
	Hosts    []string
	Children []string
	Vars     map[string]any
}

func parseGroups(t *testing.T, listed map[string]any) groupTree {
	t.Helper()
	groupsOnly := maps.Clone(listed)
	delete(groupsOnly, "_meta")
	data, err := json.Marshal(groupsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var g groupTree
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

// members returns every group reachable from "all" (--list drops empty
// groups as keys but still names them as children) with the hosts each
// holds directly or through its children, sorted.
func (g groupTree) members() map[string][]string {
	out := map[string][]string{}
	var walk func(name string) []string
	walk = func(name string) []string {
		if hosts, ok := out[name]; ok {
			return hosts
		}
		set := map[string]bool{}
		for _, h := range g[name].Hosts {
			set[h] = true
		}
		out[name] = nil // guard against cycles
		for _, c := range g[name].Children {
			for _, h := range walk(c) {
				set[h] = true
			}
		}
		out[name] = slices.Sorted(maps.Keys(set))
		return out[name]
	}
	walk("all")
	// "all" lists no hosts in --list; every host is in all.
	return out
}

func hostvarsOf(t *testing.T, listed map[string]any) map[string]map[string]any {
	t.Helper()
	meta, _ := listed["_meta"].(map[string]any)
	hv, _ := meta["hostvars"].(map[string]any)
	out := map[string]map[string]any{}
	for h, v := range hv {
		vars, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("hostvars[%s] is %T", h, v)
		}
		out[h] = vars
	}
	return out
}

// jsonish turns expected values into what decoding JSON with UseNumber
// yields, so that types are compared too (an int must not come back as
// the string "9100").
func jsonish(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if n, ok := v.(int); ok {
			v = json.Number(strconv.Itoa(n))
		}
		out[k] = v
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// TestAnsibleReadsGoldenFiles feeds every golden file to the real
// ansible-inventory and checks the groups, their hosts, the host variables
// and that the connection variables reach every host from k8s_cluster.
func TestAnsibleReadsGoldenFiles(t *testing.T) {
	bin := testutil.RequireTool(t, "ansible-inventory")
	for _, tc := range goldenCases() {
		for _, format := range formats {
			t.Run(tc.name+"."+string(format), func(t *testing.T) {
				t.Parallel()
				file, err := filepath.Abs(goldenPath(tc.name, format))
				if err != nil {
					t.Fatal(err)
				}
				plugin := map[Format]string{FormatINI: "ini", FormatYAML: "yaml"}[format]

				connection := map[string]any{"ansible_user": tc.opts.User, "ansible_python_interpreter": tc.opts.pythonInterpreter()}
				if tc.opts.PrivateKeyFile != "" {
					connection["ansible_ssh_private_key_file"] = tc.opts.PrivateKeyFile
				}
				if tc.opts.KnownHostsFile != "" {
					connection["ansible_ssh_common_args"] = "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=" + tc.opts.KnownHostsFile
				}
				wantGroups := map[string][]string{}
				for g, hosts := range tc.groups {
					wantGroups[g] = sortedCopy(hosts)
				}

				// --list: groups, hosts, and variables as every host sees them.
				printed, listed := ansibleInventory(t, bin, file, "--list", "-vvv")
				if want := "with " + plugin + " plugin"; !strings.Contains(printed, want) {
					t.Errorf("ansible-inventory did not report parsing with the %s plugin:\n%s", plugin, printed)
				}
				groups := parseGroups(t, listed)
				got := groups.members()
				got["all"] = sortedCopy(slices.Collect(maps.Keys(hostvarsOf(t, listed))))
				for g := range got {
					got[g] = sortedCopy(got[g])
				}
				if !reflect.DeepEqual(got, wantGroups) {
					t.Errorf("groups (with all their hosts):\n got %v\nwant %v", got, wantGroups)
				}
				hostvars := hostvarsOf(t, listed)
				for host, own := range tc.hostvars {
					// Group vars, then the host's own (host vars win).
					want := jsonish(connection)
					maps.Copy(want, jsonish(own))
					if !reflect.DeepEqual(hostvars[host], want) {
						t.Errorf("hostvars[%s]:\n got %#v\nwant %#v", host, hostvars[host], want)
					}
				}
				if len(hostvars) != len(tc.hostvars) {
					t.Errorf("hosts = %v, want %d hosts", slices.Sorted(maps.Keys(hostvars)), len(tc.hostvars))
				}

				// --list --export: the connection variables are group
				// variables of k8s_cluster, not set per host.
				_, exported := ansibleInventory(t, bin, file, "--list", "--export")
				eg := parseGroups(t, exported)
				if !reflect.DeepEqual(eg["k8s_cluster"].Vars, connection) {
					t.Errorf("k8s_cluster vars = %#v, want %#v", eg["k8s_cluster"].Vars, connection)
				}
				for name, g := range eg {
					if name != "k8s_cluster" && len(g.Vars) > 0 {
						t.Errorf("group %s has vars %v; only k8s_cluster should", name, g.Vars)
					}
				}
				for host, vars := range hostvarsOf(t, exported) {
					if !reflect.DeepEqual(vars, jsonish(tc.hostvars[host])) {
						t.Errorf("exported hostvars[%s] = %#v, want %#v", host, vars, jsonish(tc.hostvars[host]))
					}
				}

				// --graph: every group (also empty ones) under all.
				graph, _ := ansibleInventory(t, bin, file, "--graph")
				for g := range tc.groups {
					if !strings.Contains(graph, "@"+g+":") {
						t.Errorf("--graph lacks group %s:\n%s", g, graph)
					}
				}
				for host := range tc.hostvars {
					if !strings.Contains(graph, "--"+host+"\n") {
						t.Errorf("--graph lacks host %s:\n%s", host, graph)
					}
				}
			})
		}
	}
}
