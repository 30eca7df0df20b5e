package inventory

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestMain rewrites the golden files with -update before any test runs, so
// that TestAnsibleReadsGoldenFiles checks the new files in the same run.
func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		if err := writeGoldenFiles(); err != nil {
			fmt.Fprintln(os.Stderr, "update golden files:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func writeGoldenFiles() error {
	for _, tc := range goldenCases() {
		for _, format := range formats {
			out, err := Render(tc.nodes, tc.opts, tc.flavor, format)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", tc.name, format, err)
			}
			if err := os.WriteFile(goldenPath(tc.name, format), []byte(out), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// labNodes is the reference lab (Pulumi.lab.yaml), deliberately not sorted.
func labNodes() []Node {
	return []Node{
		{Name: "nixlab-workers-2", Role: RoleWorker, VMID: 9201, IPv4: "192.168.1.32"},
		{Name: "nixlab-control-plane-1", Role: RoleControlPlane, VMID: 9100, IPv4: "192.168.1.21"},
		{Name: "nixlab-workers-1", Role: RoleWorker, VMID: 9200, IPv4: "192.168.1.31"},
	}
}

var labOpts = Options{User: "nixos", PrivateKeyFile: ".nixlab/lab/id_ed25519", KnownHostsFile: ".nixlab/lab/known_hosts"}

// goldenCase is one inventory rendered in both formats to
// testdata/<name>.ini and testdata/<name>.yaml, and checked against what
// ansible-inventory reads back (ansible_test.go).
type goldenCase struct {
	name   string
	nodes  []Node
	opts   Options
	flavor Flavor
	// groups maps every group Ansible must know to all hosts it holds,
	// directly or through children (empty: the group exists, no hosts).
	groups map[string][]string
	// hostvars are each host's own variables (without group vars).
	hostvars map[string]map[string]any
}

// hv builds expected host variables; ip "" means unknown.
func hv(flavor Flavor, ip string, vmid int, role Role) map[string]any {
	m := map[string]any{"nixlab_vm_id": vmid, "nixlab_role": string(role)}
	if ip != "" {
		m["ansible_host"] = ip
		if flavor == FlavorKubespray {
			m["ip"], m["access_ip"] = ip, ip
		}
	}
	return m
}

// withUser adds a host's own ansible_user to expected host variables.
func withUser(m map[string]any, user string) map[string]any {
	m["ansible_user"] = user
	return m
}

const (
	cp1 = "nixlab-control-plane-1"
	w1  = "nixlab-workers-1"
	w2  = "nixlab-workers-2"
)

func goldenCases() []goldenCase {
	userOverride := labNodes()
	for i := range userOverride {
		if userOverride[i].Name == cp1 {
			userOverride[i].User = "ops" // cloned before adminUser changed to nixos
		}
	}
	opsHV := hv(FlavorNixlab, "192.168.1.21", 9100, RoleControlPlane)
	opsHV["ansible_user"] = "ops"
	return []goldenCase{
		{
			name: "nixlab-user-override", nodes: userOverride, opts: labOpts, flavor: FlavorNixlab,
			groups: map[string][]string{
				"all": {cp1, w1, w2}, "ungrouped": {}, "k8s_cluster": {cp1, w1, w2},
				"control_plane": {cp1}, "workers": {w1, w2},
				"kube_control_plane": {cp1}, "etcd": {cp1}, "kube_node": {w1, w2},
			},
			hostvars: map[string]map[string]any{
				cp1: opsHV,
				w1:  hv(FlavorNixlab, "192.168.1.31", 9200, RoleWorker),
				w2:  hv(FlavorNixlab, "192.168.1.32", 9201, RoleWorker),
			},
		},
		{
			name: "nixlab-lab", nodes: labNodes(), opts: labOpts, flavor: FlavorNixlab,
			groups: map[string][]string{
				"all": {cp1, w1, w2}, "ungrouped": {}, "k8s_cluster": {cp1, w1, w2},
				"control_plane": {cp1}, "workers": {w1, w2},
				"kube_control_plane": {cp1}, "etcd": {cp1}, "kube_node": {w1, w2},
			},
			hostvars: map[string]map[string]any{
				cp1: hv(FlavorNixlab, "192.168.1.21", 9100, RoleControlPlane),
				w1:  hv(FlavorNixlab, "192.168.1.31", 9200, RoleWorker),
				w2:  hv(FlavorNixlab, "192.168.1.32", 9201, RoleWorker),
			},
		},
		{
			name: "kubespray-lab", nodes: labNodes(), opts: labOpts, flavor: FlavorKubespray,
			groups: map[string][]string{
				"all": {cp1, w1, w2}, "ungrouped": {}, "k8s_cluster": {cp1, w1, w2},
				"kube_control_plane": {cp1}, "etcd": {cp1}, "kube_node": {w1, w2},
			},
			hostvars: map[string]map[string]any{
				cp1: hv(FlavorKubespray, "192.168.1.21", 9100, RoleControlPlane),
				w1:  hv(FlavorKubespray, "192.168.1.31", 9200, RoleWorker),
				w2:  hv(FlavorKubespray, "192.168.1.32", 9201, RoleWorker),
			},
		},
		{
			// DHCP before deployment: no address known, and no key file.
			name: "nixlab-dhcp", flavor: FlavorNixlab, opts: Options{User: "nixos"},
			nodes: []Node{
				{Name: w1, Role: RoleWorker, VMID: 9200},
				{Name: cp1, Role: RoleControlPlane, VMID: 9100},
				{Name: w2, Role: RoleWorker, VMID: 9201},
			},
			groups: map[string][]string{
				"all": {cp1, w1, w2}, "ungrouped": {}, "k8s_cluster": {cp1, w1, w2},
				"control_plane": {cp1}, "workers": {w1, w2},
				"kube_control_plane": {cp1}, "etcd": {cp1}, "kube_node": {w1, w2},
			},
			hostvars: map[string]map[string]any{
				cp1: hv(FlavorNixlab, "", 9100, RoleControlPlane),
				w1:  hv(FlavorNixlab, "", 9200, RoleWorker),
				w2:  hv(FlavorNixlab, "", 9201, RoleWorker),
			},
		},
		{
			// Some addresses known, some not yet.
			name: "kubespray-dhcp", flavor: FlavorKubespray, opts: labOpts,
			nodes: []Node{
				{Name: w2, Role: RoleWorker, VMID: 9201},
				{Name: cp1, Role: RoleControlPlane, VMID: 9100, IPv4: "10.0.0.21"},
				{Name: w1, Role: RoleWorker, VMID: 9200},
			},
			groups: map[string][]string{
				"all": {cp1, w1, w2}, "ungrouped": {}, "k8s_cluster": {cp1, w1, w2},
				"kube_control_plane": {cp1}, "etcd": {cp1}, "kube_node": {w1, w2},
			},
			hostvars: map[string]map[string]any{
				cp1: hv(FlavorKubespray, "10.0.0.21", 9100, RoleControlPlane),
				w1:  hv(FlavorKubespray, "", 9200, RoleWorker),
				w2:  hv(FlavorKubespray, "", 9201, RoleWorker),
			},
		},
		{
			// No workers: kube_node falls back to the control planes.
			name: "kubespray-no-workers", flavor: FlavorKubespray, opts: labOpts,
			nodes: []Node{
				{Name: "nixlab-control-plane-3", Role: RoleControlPlane, VMID: 9102, IPv4: "192.168.1.23"},
				{Name: "nixlab-control-plane-10", Role: RoleControlPlane, VMID: 9109, IPv4: "192.168.1.30"},
				{Name: "nixlab-control-plane-1", Role: RoleControlPlane, VMID: 9100, IPv4: "192.168.1.21"},
			},
			groups: map[string][]string{
				"all":                {cp1, "nixlab-control-plane-3", "nixlab-control-plane-10"},
				"ungrouped":          {},
				"k8s_cluster":        {cp1, "nixlab-control-plane-3", "nixlab-control-plane-10"},
				"kube_control_plane": {cp1, "nixlab-control-plane-3", "nixlab-control-plane-10"},
				"etcd":               {cp1, "nixlab-control-plane-3", "nixlab-control-plane-10"},
				"kube_node":          {cp1, "nixlab-control-plane-3", "nixlab-control-plane-10"},
			},
			hostvars: map[string]map[string]any{
				cp1:                       hv(FlavorKubespray, "192.168.1.21", 9100, RoleControlPlane),
				"nixlab-control-plane-3":  hv(FlavorKubespray, "192.168.1.23", 9102, RoleControlPlane),
				"nixlab-control-plane-10": hv(FlavorKubespray, "192.168.1.30", 9109, RoleControlPlane),
			},
		},
		{
			// A lone control plane: the workers group exists but is empty.
			name: "nixlab-no-workers", flavor: FlavorNixlab, opts: labOpts,
			nodes: []Node{{Name: cp1, Role: RoleControlPlane, VMID: 9100, IPv4: "192.168.1.21"}},
			groups: map[string][]string{
				"all": {cp1}, "ungrouped": {}, "k8s_cluster": {cp1},
				"control_plane": {cp1}, "workers": {},
				// No workers: the control plane runs the pods.
				"kube_control_plane": {cp1}, "etcd": {cp1}, "kube_node": {cp1},
			},
			hostvars: map[string]map[string]any{cp1: hv(FlavorNixlab, "192.168.1.21", 9100, RoleControlPlane)},
		},
		{
			// Zero nodes: every group exists, empty.
			name: "kubespray-no-nodes", flavor: FlavorKubespray, opts: labOpts,
			groups: map[string][]string{
				"all": {}, "ungrouped": {}, "k8s_cluster": {},
				"kube_control_plane": {}, "etcd": {}, "kube_node": {},
			},
			hostvars: map[string]map[string]any{},
		},
		{
			// Values that must be quoted to stay strings: host names that
			// YAML would read as a number or boolean, users that YAML 1.1
			// or Python literals read as booleans (also on INI host lines,
			// which shlex unquotes before ast.literal_eval), a key path with
			// quotes, '#', ';', '\' and non-ASCII letters.
			name: "nixlab-quoting", flavor: FlavorNixlab,
			opts: Options{User: "no", PrivateKeyFile: `~/clés/it's#1;"lab"\id`},
			nodes: []Node{
				{Name: "true", Role: RoleControlPlane, VMID: 100},
				{Name: "0x1F", Role: RoleWorker, VMID: 101, IPv4: "10.0.0.2", User: "off"},
				{Name: "1.5", Role: RoleWorker, VMID: 102, IPv4: "10.0.0.3", User: "True"},
				{Name: "10.0.0.4", Role: RoleWorker, VMID: 103, IPv4: "10.0.0.4"},
			},
			groups: map[string][]string{
				"all": {"true", "0x1F", "1.5", "10.0.0.4"}, "ungrouped": {}, "k8s_cluster": {"true", "0x1F", "1.5", "10.0.0.4"},
				"control_plane": {"true"}, "workers": {"0x1F", "1.5", "10.0.0.4"},
				"kube_control_plane": {"true"}, "etcd": {"true"}, "kube_node": {"0x1F", "1.5", "10.0.0.4"},
			},
			hostvars: map[string]map[string]any{
				"true":     hv(FlavorNixlab, "", 100, RoleControlPlane),
				"0x1F":     withUser(hv(FlavorNixlab, "10.0.0.2", 101, RoleWorker), "off"),
				"1.5":      withUser(hv(FlavorNixlab, "10.0.0.3", 102, RoleWorker), "True"),
				"10.0.0.4": hv(FlavorNixlab, "10.0.0.4", 103, RoleWorker),
			},
		},
		{
			name: "kubespray-quoting", flavor: FlavorKubespray,
			opts: Options{User: "True", PrivateKeyFile: "0755", PythonInterpreter: "/usr/bin/python3"},
			nodes: []Node{
				{Name: "null", Role: RoleControlPlane, VMID: 100, IPv4: "10.0.0.1"},
				{Name: "1", Role: RoleWorker, VMID: 101, User: `y"'#`},
			},
			groups: map[string][]string{
				"all": {"null", "1"}, "ungrouped": {}, "k8s_cluster": {"null", "1"},
				"kube_control_plane": {"null"}, "etcd": {"null"}, "kube_node": {"1"},
			},
			hostvars: map[string]map[string]any{
				"null": hv(FlavorKubespray, "10.0.0.1", 100, RoleControlPlane),
				"1":    withUser(hv(FlavorKubespray, "", 101, RoleWorker), `y"'#`),
			},
		},
	}
}

var formats = []Format{FormatINI, FormatYAML}

func goldenPath(name string, format Format) string {
	return filepath.Join("testdata", name+"."+string(format))
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		for _, format := range formats {
			t.Run(tc.name+"."+string(format), func(t *testing.T) {
				got, err := Render(tc.nodes, tc.opts, tc.flavor, format)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				path := goldenPath(tc.name, format)
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./inventory/ -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from Render (run with -update after checking the change)\n--- got\n%s--- want\n%s", path, got, want)
				}
				if !strings.HasSuffix(got, "\n") || strings.HasSuffix(got, "\n\n") {
					t.Errorf("output must end with exactly one newline: %q", got[max(0, len(got)-20):])
				}
			})
		}
	}
}

// TestNoGoldenOrphans keeps testdata/ in step with goldenCases.
func TestNoGoldenOrphans(t *testing.T) {
	known := map[string]bool{}
	for _, tc := range goldenCases() {
		for _, format := range formats {
			known[filepath.Base(goldenPath(tc.name, format))] = true
		}
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			t.Errorf("testdata/%s belongs to no golden case", e.Name())
		}
	}
}

func TestWrappers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fn     func([]Node, Options) (string, error)
		format Format
	}{
		{"INI", INI, FormatINI},
		{"YAML", YAML, FormatYAML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn(labNodes(), labOpts)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Render(labNodes(), labOpts, FlavorNixlab, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s differs from Render(nixlab, %s)", tc.name, tc.format)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	const emptyFlavor Flavor = "<empty>" // stands for Flavor("") in the table
	node := func(mut func(*Node)) []Node {
		nodes := labNodes()
		mut(&nodes[1]) // nixlab-control-plane-1
		return nodes
	}
	tests := []struct {
		name   string
		nodes  []Node
		opts   Options
		flavor Flavor
		format Format
		// rawOpts passes opts even when zero (otherwise labOpts).
		rawOpts bool
		want    []string // substrings of the error
	}{
		{name: "empty name", nodes: node(func(n *Node) { n.Name = "" }), want: []string{"nodes[1]", "Name is empty"}},
		{name: "duplicate name", nodes: append(labNodes(), Node{Name: w1, Role: RoleWorker, VMID: 9300}), want: []string{`nodes[3] ("nixlab-workers-1")`, "Name duplicates nodes[2]"}},
		{name: "name with space", nodes: node(func(n *Node) { n.Name = "bad name" }), want: []string{`nodes[1] ("bad name")`, "not a valid inventory host name"}},
		{name: "name starting with dash", nodes: node(func(n *Node) { n.Name = "-node" }), want: []string{`("-node")`, "starting with a letter or digit"}},
		{name: "name starting with dot", nodes: node(func(n *Node) { n.Name = ".node" }), want: []string{`(".node")`, "Name"}},
		{name: "name with colon", nodes: node(func(n *Node) { n.Name = "host:22" }), want: []string{`"host:22"`, "not a valid inventory host name"}},
		{name: "name with bracket", nodes: node(func(n *Node) { n.Name = "node[1:3]" }), want: []string{`"node[1:3]"`, "Name"}},
		{name: "name with newline", nodes: node(func(n *Node) { n.Name = "a\nb" }), want: []string{`"a\nb"`, "Name"}},
		{name: "name is a group", nodes: node(func(n *Node) { n.Name = "workers" }), want: []string{`("workers")`, `clashes with the inventory group "workers"`}},
		{name: "name is a kubespray group", flavor: FlavorKubespray, nodes: node(func(n *Node) { n.Name = "etcd" }), want: []string{`("etcd")`, "clashes"}},
		{name: "name is a Kubernetes group of the nixlab flavour", nodes: node(func(n *Node) { n.Name = "kube_node" }), want: []string{`("kube_node")`, `clashes with the inventory group "kube_node"`}},
		{name: "name is all", nodes: node(func(n *Node) { n.Name = "all" }), want: []string{`("all")`, "clashes"}},
		{name: "empty role", nodes: node(func(n *Node) { n.Role = "" }), want: []string{`nodes[1] ("nixlab-control-plane-1")`, "Role is empty"}},
		{name: "unknown role", nodes: node(func(n *Node) { n.Role = "master" }), want: []string{`nodes[1] ("nixlab-control-plane-1")`, `unknown Role "master"`}},
		{name: "zero vmid", nodes: node(func(n *Node) { n.VMID = 0 }), want: []string{`("nixlab-control-plane-1")`, "VMID 0 is outside"}},
		{name: "vmid too large", nodes: node(func(n *Node) { n.VMID = 1000000000 }), want: []string{"VMID 1000000000"}},
		{name: "duplicate vmid", nodes: node(func(n *Node) { n.VMID = 9201 }), want: []string{`nodes[1] ("nixlab-control-plane-1")`, "VMID 9201 duplicates nodes[0]"}},
		{name: "ipv4 with prefix", nodes: node(func(n *Node) { n.IPv4 = "192.168.1.21/24" }), want: []string{`("nixlab-control-plane-1")`, `IPv4 "192.168.1.21/24"`, "without prefix length"}},
		{name: "ipv4 out of range", nodes: node(func(n *Node) { n.IPv4 = "192.168.1.300" }), want: []string{`IPv4 "192.168.1.300"`, "not a dotted IPv4 address"}},
		{name: "ipv4 short", nodes: node(func(n *Node) { n.IPv4 = "10.1" }), want: []string{`IPv4 "10.1"`, "not a dotted IPv4"}},
		{name: "ipv4 leading zero", nodes: node(func(n *Node) { n.IPv4 = "192.168.001.21" }), want: []string{`IPv4 "192.168.001.21"`}},
		{name: "ipv6", nodes: node(func(n *Node) { n.IPv4 = "fd00::21" }), want: []string{`IPv4 "fd00::21"`, "not a dotted IPv4"}},
		{name: "ipv4-mapped ipv6", nodes: node(func(n *Node) { n.IPv4 = "::ffff:192.168.1.21" }), want: []string{`IPv4 "::ffff:192.168.1.21"`}},
		{name: "hostname as ipv4", nodes: node(func(n *Node) { n.IPv4 = "node1.lan" }), want: []string{`IPv4 "node1.lan"`}},
		{name: "ipv4 with spaces", nodes: node(func(n *Node) { n.IPv4 = " 192.168.1.21" }), want: []string{`IPv4 " 192.168.1.21"`}},
		{name: "unspecified ipv4", nodes: node(func(n *Node) { n.IPv4 = "0.0.0.0" }), want: []string{`IPv4 "0.0.0.0"`, "not a host address"}},
		{name: "duplicate ipv4", nodes: node(func(n *Node) { n.IPv4 = "192.168.1.32" }), want: []string{`nodes[1] ("nixlab-control-plane-1")`, "IPv4 192.168.1.32 duplicates nodes[0]"}},
		{name: "empty user", opts: Options{PrivateKeyFile: "k"}, want: []string{"Options.User", "ansible_user", "empty"}},
		{name: "user with space", opts: Options{User: "nix os"}, want: []string{"Options.User", `"nix os"`, "whitespace"}},
		{name: "relative python", opts: Options{User: "nixos", PythonInterpreter: "python3"}, want: []string{"Options.PythonInterpreter (ansible_python_interpreter)", `"python3"`, "absolute path", NixOSPython}},
		{name: "python with space", opts: Options{User: "nixos", PythonInterpreter: "/usr/bin/env python3"}, want: []string{"Options.PythonInterpreter", "whitespace"}},
		{name: "key file with space", opts: Options{User: "nixos", PrivateKeyFile: "my keys/id"}, want: []string{"Options.PrivateKeyFile", "ansible_ssh_private_key_file", "whitespace"}},
		{name: "key file with newline", opts: Options{User: "nixos", PrivateKeyFile: "id\n[all]"}, want: []string{"Options.PrivateKeyFile", "newlines"}},
		{name: "key file with tab", opts: Options{User: "nixos", PrivateKeyFile: "id\tx"}, want: []string{"Options.PrivateKeyFile"}},
		{name: "node user with space", nodes: node(func(n *Node) { n.User = "o ps" }), want: []string{"nodes[1]", "User (ansible_user)"}},
		{name: "known hosts with space", opts: Options{User: "nixos", KnownHostsFile: "my state/known_hosts"}, want: []string{"Options.KnownHostsFile", "whitespace"}},
		{name: "known hosts with quote", opts: Options{User: "nixos", KnownHostsFile: "x'y"}, want: []string{"Options.KnownHostsFile", "quotes"}},
		{name: "key material", opts: Options{User: "nixos", PrivateKeyFile: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"}, want: []string{"Options.PrivateKeyFile", "key material"}},
		{name: "unknown flavor", flavor: "k3s", want: []string{`unknown flavor "k3s"`, `"nixlab"`, `"kubespray"`}},
		{name: "empty flavor", flavor: emptyFlavor, want: []string{`unknown flavor ""`}},
		{name: "unknown format", format: "json", want: []string{`unknown format "json"`, `"ini"`, `"yaml"`}},
		{name: "every problem at once", nodes: []Node{{Name: "a b", Role: "boss", VMID: 1, IPv4: "x"}}, rawOpts: true, want: []string{"Name", `unknown Role "boss"`, "VMID 1", `IPv4 "x"`, "Options.User"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, opts, flavor, format := tc.nodes, tc.opts, tc.flavor, tc.format
			if nodes == nil {
				nodes = labNodes()
			}
			if opts == (Options{}) && !tc.rawOpts {
				opts = labOpts
			}
			switch flavor {
			case "":
				flavor = FlavorNixlab
			case emptyFlavor:
				flavor = ""
			}
			if format == "" {
				format = FormatINI
			}
			out, err := Render(nodes, opts, flavor, format)
			if err == nil {
				t.Fatalf("Render succeeded, want an error; output:\n%s", out)
			}
			if out != "" {
				t.Errorf("Render returned output with an error: %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestValidInputsAccepted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []Node
		opts  Options
	}{
		{"zero nodes", nil, labOpts},
		{"empty slice", []Node{}, labOpts},
		{"no key file", labNodes(), Options{User: "nixos"}},
		{"absolute key file", labNodes(), Options{User: "nixos", PrivateKeyFile: "/home/me/.ssh/id_ed25519"}},
		{"dotted and underscored names", []Node{{Name: "k8s_cp.lab-1", Role: RoleControlPlane, VMID: 100}}, labOpts},
		{"vmid bounds", []Node{{Name: "a", Role: RoleWorker, VMID: 100}, {Name: "b", Role: RoleWorker, VMID: 999999999}}, labOpts},
		{"mixed known and unknown addresses", []Node{{Name: "a", Role: RoleWorker, VMID: 100, IPv4: "10.0.0.1"}, {Name: "b", Role: RoleWorker, VMID: 101}, {Name: "c", Role: RoleWorker, VMID: 102}}, labOpts},
	} {
		for _, flavor := range []Flavor{FlavorNixlab, FlavorKubespray} {
			for _, format := range formats {
				if _, err := Render(tc.nodes, tc.opts, flavor, format); err != nil {
					t.Errorf("%s (%s %s): %v", tc.name, flavor, format, err)
				}
			}
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"node-2", "node-10", -1},
		{"node-10", "node-2", 1},
		{"node-2", "node-2", 0},
		{"node-9", "node-09", 1}, // equal value: plain comparison breaks the tie
		{"node-1", "node-1a", -1},
		{"node-1a", "node-1b", -1},
		{"a", "b", -1},
		{"", "a", -1},
		{"node", "node-1", -1},
		{"x99", "x100", -1},
		{"x18446744073709551616", "x18446744073709551617", -1}, // beyond uint64
		{"nixlab-workers-2", "nixlab-control-plane-10", 1},
		{"B", "a", -1}, // bytewise outside digits
		{"1.5", "1.10", -1},
	}
	for _, tc := range tests {
		if got := naturalCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := naturalCompare(tc.b, tc.a); got != -tc.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d (antisymmetry)", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestNaturalHostOrder(t *testing.T) {
	var nodes []Node
	for i, n := range []int{10, 2, 1, 11, 3, 20} {
		nodes = append(nodes, Node{Name: "node-" + strconv.Itoa(n), Role: RoleWorker, VMID: 200 + i})
	}
	want := []string{"node-1", "node-2", "node-3", "node-10", "node-11", "node-20"}
	for _, flavor := range []Flavor{FlavorNixlab, FlavorKubespray} {
		out, err := Render(nodes, labOpts, flavor, FormatINI)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "node-") {
				got = append(got, strings.Fields(line)[0])
			}
		}
		// Both flavours list each host twice: where it is defined
		// (Kubespray: [all]; nixlab: [workers]) and again in kube_node.
		want := append(slices.Clone(want), want...)
		if !slices.Equal(got, want) {
			t.Errorf("%s host order = %v, want %v", flavor, got, want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, tc := range goldenCases() {
		for _, format := range formats {
			first, err := Render(tc.nodes, tc.opts, tc.flavor, format)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 20; i++ {
				shuffled := slices.Clone(tc.nodes)
				rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
				before := slices.Clone(shuffled)
				got, err := Render(shuffled, tc.opts, tc.flavor, format)
				if err != nil {
					t.Fatal(err)
				}
				if got != first {
					t.Fatalf("%s.%s: output depends on input order %v:\n%s\nvs\n%s", tc.name, format, names(shuffled), got, first)
				}
				if !slices.Equal(shuffled, before) {
					t.Fatalf("%s.%s: Render reordered its input", tc.name, format)
				}
			}
		}
	}
}

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestBare(t *testing.T) {
	for s, want := range map[string]bool{
		"nixos": true, ".nixlab/lab/id_ed25519": true, "/root/.ssh/id": true, "~/.ssh/id": true,
		"_x": true, "a.b-c_d/e~f@g+h": true, "control-plane": true,
		"": false, "no": false, "Yes": false, "ON": false, "null": false, "None": false, "~": false,
		".inf": false, ".5": false, "0755": false, "1": false, "-x": false, "@x": false,
		"a b": false, "a#b": false, "a;b": false, "a:b": false, "a'b": false, `a"b`: false, "a,b": false,
		"[x]": false, "{x}": false, "a=b": false, "é": false,
	} {
		if got := bare(s); got != want {
			t.Errorf("bare(%q) = %v, want %v", s, got, want)
		}
	}
}
