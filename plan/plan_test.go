package plan

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// unsetEnv unsets an environment variable for the test (restored after).
func unsetEnv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

// render writes the plan in a format.
func render(t *testing.T, p *Plan, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.Write(&b, format); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return b.String()
}

// normalize replaces what changes whenever a nix file changes (the content
// hash and its short form, in the ISO file name) and where the checkout is
// (paths in the config are resolved against the project directory).
func normalize(p *Plan, s, projectDir string) string {
	s = strings.ReplaceAll(s, projectDir, "<project>")
	s = strings.ReplaceAll(s, p.ContentHash, "<content-hash>")
	return strings.ReplaceAll(s, p.ContentHash[:16], "<short-hash>")
}

// baseStack is a stack file like Pulumi.lab.yaml; %NETWORK% and %GROUPS%
// are replaced per test, %TOKEN% by an apiToken entry (or nothing).
const baseStack = `config:
  nixlab:proxmox:
    endpoint: https://192.168.1.5:8006/
    insecure: true
    node: pve
  nixlab:template:
    vmId: 9000
%TOKEN%  nixlab:network:
%NETWORK%
  nixlab:nodeGroups:
%GROUPS%
`

const (
	dhcpNetwork = "    mode: dhcp"
	dhcpGroups  = `    control-plane: {role: control-plane, count: 1, vmIdStart: 9100}
    workers: {role: worker, count: 2, vmIdStart: 9200}`
	staticNetwork = `    mode: static
    cidr: 192.168.1.0/24
    gateway: 192.168.1.1
    dns: [192.168.1.1]`
	staticGroups = `    control-plane: {role: control-plane, count: 1, vmIdStart: 9100, hostOffset: 21}
    workers: {role: worker, count: 2, vmIdStart: 9200, hostOffset: 31}`
)

// stackYAML fills baseStack.
func stackYAML(token, network, groups string) string {
	return strings.NewReplacer("%TOKEN%", token, "%NETWORK%", network, "%GROUPS%", groups).Replace(baseStack)
}

// tempProject writes a project directory with the repository's Pulumi.yaml
// and the given stack files (stack name -> content).
func tempProject(t *testing.T, stacks map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	project, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), project, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range stacks {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build builds a plan and fails the test on error.
func build(t *testing.T, dir, stackName string) *Plan {
	t.Helper()
	p, err := Build(dir, stackName)
	if err != nil {
		t.Fatalf("Build(%s, %s): %v", dir, stackName, err)
	}
	return p
}

func TestLabGolden(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	root := testutil.RepoRoot(t)
	first, second := build(t, root, "lab"), build(t, root, "lab")
	for _, format := range []struct{ name, file string }{
		{FormatText, "lab.txt"},
		{FormatJSON, "lab.json"},
	} {
		t.Run(format.name, func(t *testing.T) {
			got := render(t, first, format.name)
			if again := render(t, second, format.name); again != got {
				t.Fatalf("two builds differ:\n%s\n---\n%s", got, again)
			}
			got = normalize(first, got, root)
			path := filepath.Join("testdata", format.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./plan -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the plan (run go test ./plan -update after checking the change):\n%s", path, got)
			}
		})
	}
}

func TestLabPlanContents(t *testing.T) {
	p := build(t, testutil.RepoRoot(t), "lab")
	if len(p.ContentHash) != 64 || !strings.HasPrefix(p.ISOFileName, "nixlab-9000-") || !strings.HasSuffix(p.ISOFileName, ".iso") {
		t.Errorf("hash %q, ISO %q", p.ContentHash, p.ISOFileName)
	}
	wantNodes := []Node{
		{Name: "nixlab-control-plane-1", Group: "control-plane", Role: "control-plane", VMID: 9100, Address: AddressDHCP},
		{Name: "nixlab-workers-1", Group: "workers", Role: "worker", VMID: 9200, Address: AddressDHCP},
		{Name: "nixlab-workers-2", Group: "workers", Role: "worker", VMID: 9201, Address: AddressDHCP},
	}
	if len(p.Nodes) != len(wantNodes) {
		t.Fatalf("nodes %+v", p.Nodes)
	}
	for i, want := range wantNodes {
		got := p.Nodes[i]
		got.URN = ""
		if v, ok := got.RestartInputs.Get("cpu.cores"); !ok || v != "2" {
			t.Errorf("node %d restart inputs lack cpu.cores = 2: %v", i, got.RestartInputs)
		}
		got.RestartInputs = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("node %d = %+v, want %+v", i, got, want)
		}
	}
	if !containsString(p.Warnings, warnTokenUnset) {
		t.Errorf("no warning about the unset API token: %q", p.Warnings)
	}
	byName := map[string]Resource{}
	for _, r := range p.Resources {
		byName[r.Name] = r
	}
	checks := []struct{ res, key, want string }{
		{"template-vm", "vmId", "9000"},
		{"template-vm", "diskGb", "20"},
		{"control-plane-1", "vmId", "9100"},
		{"control-plane-1", "clone", "template-vm (VM 9000)"},
		{"workers-2", "name", "nixlab-workers-2"},
		{"workers-2", "address", "dhcp"},
		{"template-build", "create", "build-iso.sh create"},
		{"template-finalize", "connection", Secret},
		{"workers-1-ready", "create", "node-ready.sh nixlab-workers-1 /mnt/nfs yes 600"},
		{"proxmox", "apiToken", Secret},
		{"ssh-key", "algorithm", "ED25519"},
	}
	for _, c := range checks {
		got, ok := byName[c.res].Inputs.Get(c.key)
		if !ok || got != c.want {
			t.Errorf("%s %s = %q (present %v), want %q", c.res, c.key, got, ok, c.want)
		}
	}
	if byName["workers-1"].Provider != byName["proxmox"].URN || byName["template-build"].Provider != "" {
		t.Errorf("providers: workers-1 %q, template-build %q", byName["workers-1"].Provider, byName["template-build"].Provider)
	}
	if byName["workers-1"].Parent != byName["workers"].URN || byName["workers"].Custom {
		t.Errorf("workers-1 parent %q, want the workers component", byName["workers-1"].Parent)
	}
}

func TestGraphFormats(t *testing.T) {
	p := build(t, testutil.RepoRoot(t), "lab")
	ids := p.graphIDs()
	urn := func(name string) string {
		for _, r := range p.Resources {
			if r.Name == name {
				return r.URN
			}
		}
		t.Fatalf("no resource %s", name)
		return ""
	}
	chain := [][2]string{
		{"template-build", "template-upload"},
		{"template-upload", "template-vm"},
		{"template-vm", "template-finalize"},
		{"template-finalize", "control-plane-1"},
		// A clone waits for the previous node's readiness check and
		// uncordon, through its own drain (one node at a time, also for
		// reboots, drained first on a cluster).
		{"control-plane-1-ready", "control-plane-1-uncordon"},
		{"control-plane-1-uncordon", "workers-1-drain"},
		{"workers-1-drain", "workers-1"},
		{"workers-1-uncordon", "workers-2-drain"},
		{"workers-2-drain", "workers-2"},
		{"workers-2", "workers-2-ready"},
		{"control-plane-1", "control-plane-1-ready"},
		// The roll: control plane first, then the workers one at a time.
		{"control-plane-1-roll", "workers-1-roll"},
		{"workers-1-roll", "workers-2-roll"},
	}
	for _, c := range chain {
		if !containsEdge(p.Edges, Edge{From: urn(c[0]), To: urn(c[1])}) {
			t.Errorf("plan lacks the edge %s -> %s", c[0], c[1])
		}
	}
	seen := map[Edge]bool{}
	for _, e := range p.Edges {
		if seen[e] {
			t.Errorf("duplicate edge %v", e)
		}
		seen[e] = true
	}

	cases := []struct {
		format, header, arrow string
		node                  func(r Resource) string
	}{
		{FormatMermaid, "flowchart TD\n", "%s --> %s", func(r Resource) string {
			if r.Component() {
				return "subgraph " + ids[r.URN] + "["
			}
			return ids[r.URN] + `["` + r.Name + "<br/>" + r.Type + `"]`
		}},
		{FormatDot, "digraph nixlab {\n", `"%s" -> "%s";`, func(r Resource) string {
			if r.Component() {
				return `subgraph "cluster_` + ids[r.URN] + `" {`
			}
			return `"` + ids[r.URN] + `" [label="` + r.Name + `\n` + r.Type + `"];`
		}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			out := render(t, p, c.format)
			if !strings.HasPrefix(out, c.header) {
				t.Errorf("does not start with %q:\n%s", c.header, out)
			}
			if strings.Count(out, "{") != strings.Count(out, "}") || strings.Count(out, "[") != strings.Count(out, "]") {
				t.Errorf("unbalanced braces or brackets:\n%s", out)
			}
			if c.format == FormatMermaid && strings.Count(out, "subgraph ") != strings.Count(out, "\n  end\n") {
				t.Errorf("subgraphs not closed:\n%s", out)
			}
			for _, r := range p.Resources {
				if !strings.Contains(out, c.node(r)) {
					t.Errorf("no node for %s (%q)", r.Name, c.node(r))
				}
			}
			for _, e := range p.Edges {
				line := fmt.Sprintf(c.arrow, ids[e.From], ids[e.To])
				if strings.Count(out, line+"\n") != 1 {
					t.Errorf("edge %q appears %d times", line, strings.Count(out, line+"\n"))
				}
			}
			for _, e := range chain {
				line := fmt.Sprintf(c.arrow, "r_"+sanitizeID(e[0]), "r_"+sanitizeID(e[1]))
				if !strings.Contains(out, line) {
					t.Errorf("missing %q", line)
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	good := stackYAML("", dhcpNetwork, dhcpGroups)
	cases := []struct {
		name   string
		stacks map[string]string
		stack  string
		noProj bool
		key    string   // a *stack.KeyError with this key must be in the chain
		want   []string // substrings of the message
	}{
		{
			name:   "template VM ID out of range",
			stacks: map[string]string{"bad": strings.Replace(good, "  nixlab:template:\n    vmId: 9000\n", "  nixlab:template: {vmId: 42}\n", 1)},
			stack:  "bad", key: "nixlab:template.vmId",
			want: []string{"nixlab:template.vmId: 42 is out of range; use 100 to 999999999", "Pulumi.bad.yaml"},
		},
		{
			name:   "two control planes without a Kubernetes endpoint",
			stacks: map[string]string{"ha": stackYAML("", dhcpNetwork, "    cp: {role: control-plane, count: 2, vmIdStart: 9100}")},
			stack:  "ha", key: "nixlab:kubernetes.controlPlaneEndpoint",
			want: []string{"nixlab:kubernetes.controlPlaneEndpoint: is required with 2 control-plane nodes", "Pulumi.ha.yaml"},
		},
		{
			name:   "misspelled Kubernetes setting",
			stacks: map[string]string{"kt": good + "  nixlab:kubernetes:\n    cni: flannel\n    podCIDR: 10.0.0.0/16\n"},
			stack:  "kt", key: "nixlab:kubernetes.podCIDR",
			want: []string{"Pulumi.kt.yaml:", "nixlab:kubernetes.podCIDR: unknown setting; did you mean podCidr?"},
		},
		{
			name:   "missing stack file",
			stacks: map[string]string{"lab": good},
			stack:  "prod",
			want:   []string{"Pulumi.prod.yaml does not exist", "pulumi stack init prod", "copy Pulumi.lab.yaml to Pulumi.prod.yaml"},
		},
		{
			name:   "no project file",
			stacks: map[string]string{"lab": good},
			stack:  "lab", noProj: true,
			want: []string{"no Pulumi.yaml in"},
		},
		{
			name:   "plain-text API token",
			stacks: map[string]string{"plain": stackYAML("  nixlab:apiToken: root@pam!nixlab=0badc0de-1234-4321-abcd-0123456789ab\n", dhcpNetwork, dhcpGroups)},
			stack:  "plain", key: "nixlab:apiToken",
			want: []string{"stored in plain text", "pulumi config set --secret"},
		},
		{
			name:   "misspelled top-level key",
			stacks: map[string]string{"typo2": good + "  nixlab:nodeGroup: {}\n"},
			stack:  "typo2", key: "nixlab:nodeGroup",
			want: []string{"did you mean nixlab:nodeGroups?"},
		},
		{
			name:   "unknown setting",
			stacks: map[string]string{"typo": strings.Replace(good, "vmId: 9000", "vmId: 9000\n    diskSize: 30", 1)},
			stack:  "typo", key: "nixlab:template.diskSize",
			want: []string{`nixlab:template.diskSize: unknown setting; did you mean diskSizeGb?`},
		},
		{
			name:   "other secret key",
			stacks: map[string]string{"sec": good + "  nixlab:adminUser:\n    secure: v1:AAAA\n"},
			stack:  "sec", key: "nixlab:adminUser",
			want: []string{"is encrypted"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tempProject(t, c.stacks)
			if c.noProj {
				if err := os.Remove(filepath.Join(dir, "Pulumi.yaml")); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Build(dir, c.stack)
			if err == nil {
				t.Fatalf("Build succeeded: %s", render(t, p, FormatText))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if c.key != "" && !hasKeyError(err, c.key) {
				t.Errorf("no *stack.KeyError for %s in:\n%v", c.key, err)
			}
		})
	}
}

func TestStaticAddresses(t *testing.T) {
	dir := tempProject(t, map[string]string{"static": stackYAML("", staticNetwork, staticGroups)})
	p := build(t, dir, "static")
	want := map[string]string{
		"nixlab-control-plane-1": "192.168.1.21",
		"nixlab-workers-1":       "192.168.1.31",
		"nixlab-workers-2":       "192.168.1.32",
	}
	if len(p.Nodes) != len(want) {
		t.Fatalf("nodes %+v", p.Nodes)
	}
	for _, n := range p.Nodes {
		if n.Address != want[n.Name] {
			t.Errorf("%s address %q, want %q", n.Name, n.Address, want[n.Name])
		}
		if !strings.Contains(p.Inventory, n.Name+" ansible_host="+want[n.Name]+" ") {
			t.Errorf("inventory lacks %s's address:\n%s", n.Name, p.Inventory)
		}
	}
	if strings.Contains(p.Inventory, "#") {
		t.Errorf("static inventory has address comments:\n%s", p.Inventory)
	}
	text := render(t, p, FormatText)
	if !strings.Contains(text, "192.168.1.31") || strings.Contains(text, "known after `nixlab up`") {
		t.Errorf("text output:\n%s", text)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const ciphertext = "v1:abcDEFghiJKLmnoPQRstuVWXyz0123456789+/sEcReT=="
	dir := tempProject(t, map[string]string{
		"sec": stackYAML("  nixlab:apiToken:\n    secure: "+ciphertext+"\n", dhcpNetwork, dhcpGroups),
	})
	p := build(t, dir, "sec")
	if containsString(p.Warnings, warnTokenUnset) {
		t.Errorf("warns about an unset token although it is set: %q", p.Warnings)
	}
	for _, format := range Formats {
		out := render(t, p, format)
		for _, leak := range []string{ciphertext, "abcDEFghiJKL", placeholderToken, "00000000-0000-0000-0000-000000000000", "PRIVATE KEY"} {
			if strings.Contains(out, leak) {
				t.Errorf("%s output contains %q", format, leak)
			}
		}
	}
	if !strings.Contains(render(t, p, FormatJSON), `"apiToken": "[secret]"`) {
		t.Error("JSON does not show the API token as [secret]")
	}
}

func TestNoAgentAndNothingWritten(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	state := filepath.Join(t.TempDir(), "state")
	dir := tempProject(t, map[string]string{
		"lab": stackYAML("", dhcpNetwork, dhcpGroups) + "  nixlab:stateDir: " + state + "\n",
	})
	before := listDir(t, dir)
	p := build(t, dir, "lab")
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s exists after a plan (err %v)", state, err)
	}
	if _, err := os.Stat(".nixlab"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".nixlab appeared in the working directory (err %v)", err)
	}
	if after := listDir(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("project dir changed: %v -> %v", before, after)
	}
	var warned bool
	for _, w := range p.Warnings {
		warned = warned || strings.Contains(w, "SSH_AUTH_SOCK")
	}
	if !warned {
		t.Errorf("no warning about missing SSH credentials: %q", p.Warnings)
	}
}

func TestDHCPInventoryReadsInAnsible(t *testing.T) {
	bin := testutil.RequireTool(t, "ansible-inventory")
	p := build(t, testutil.RepoRoot(t), "lab")
	for _, n := range p.Nodes {
		if !strings.Contains(p.Inventory, "# "+n.Name+": address unknown (dhcp)\n"+n.Name+" ") {
			t.Errorf("%s not marked as address unknown:\n%s", n.Name, p.Inventory)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "hosts.ini")
	if err := os.WriteFile(file, []byte(p.Inventory), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ansible.cfg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-i", file, "--list")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"), "ANSIBLE_INVENTORY_UNPARSED_FAILED=1", "ANSIBLE_NOCOLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ansible-inventory: %v\n%s", err, out)
	}
	for _, n := range p.Nodes {
		if !strings.Contains(string(out), `"`+n.Name+`"`) {
			t.Errorf("ansible-inventory does not list %s:\n%s", n.Name, out)
		}
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	p := &Plan{}
	err := p.Write(&bytes.Buffer{}, "yaml")
	if err == nil || !strings.Contains(err.Error(), "text, json, mermaid, dot") {
		t.Fatalf("err = %v", err)
	}
}

func TestShellWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`bash -c 'echo '\''hi'\''' 'build-iso' 'create'`, []string{"bash", "-c", "echo 'hi'", "build-iso", "create"}, true},
		{`a  b`, []string{"a", "b"}, true},
		{`a'b'c 'x'\''y' p\ q`, []string{"abc", "x'y", "p q"}, true},
		{"'big script'\t'name'\n", []string{"big script", "name"}, true},
		{`''`, []string{""}, true},
		{`x;y`, nil, false},
		{`echo "x"`, nil, false},
		{`echo 'open`, nil, false},
	}
	for _, c := range cases {
		got, ok := shellWords(c.in)
		if ok != c.ok || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("shellWords(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
		// Skipping word 1 leaves it empty and the others as they are.
		skipped, ok := shellWordsSkipping(c.in, 1)
		want := append([]string{}, c.want...)
		if len(want) > 1 {
			want[1] = ""
		}
		if ok != c.ok || strings.Join(skipped, "|") != strings.Join(want, "|") {
			t.Errorf("shellWordsSkipping(%q, 1) = %q, %v; want %q, %v", c.in, skipped, ok, want, c.ok)
		}
	}
}

func hasKeyError(err error, key string) bool {
	var queue = []error{err}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if ke, ok := e.(*stack.KeyError); ok && ke.Key == key {
			return true
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		case interface{ Unwrap() error }:
			queue = append(queue, u.Unwrap())
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsEdge(edges []Edge, e Edge) bool {
	for _, x := range edges {
		if x == e {
			return true
		}
	}
	return false
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		out = append(out, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
