package plan

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// rebootGroups are node groups with every size setting spelled out.
const rebootGroups = `    control-plane: {role: control-plane, count: 1, vmIdStart: 9100, cores: 2, memoryMb: 4096, diskSizeGb: 20%CPOFF%}
    workers: {role: worker, count: %COUNT%, vmIdStart: %WSTART%, cores: %CORES%, memoryMb: 4096, diskSizeGb: %DISK%%WOFF%}`

// rebootStack is a stack file for the comparison tests; edit changes the
// default values.
func rebootStack(edit map[string]string) string {
	vals := map[string]string{"%WSTART%": "9200", "%COUNT%": "2", "%CORES%": "2", "%DISK%": "20", "%CPOFF%": "", "%WOFF%": "", "network": dhcpNetwork, "extra": ""}
	for k, v := range edit {
		vals[k] = v
	}
	groups := rebootGroups
	for _, k := range []string{"%WSTART%", "%COUNT%", "%CORES%", "%DISK%", "%CPOFF%", "%WOFF%"} {
		groups = strings.ReplaceAll(groups, k, vals[k])
	}
	return stackYAML("", vals["network"], groups) + vals["extra"]
}

// viaJSON is p written as JSON and read back, as `nixlab plan --against`
// reads the earlier plan.
func viaJSON(t *testing.T, p *Plan) *Plan {
	t.Helper()
	var b bytes.Buffer
	if err := p.Write(&b, FormatJSON); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestCompareWith(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	static := map[string]string{"network": staticNetwork, "%CPOFF%": ", hostOffset: 21", "%WOFF%": ", hostOffset: 31"}
	with := func(base map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for bk, bv := range base {
			if bk != k {
				out[bk] = bv
			}
		}
		return out
	}
	all := []string{"nixlab-control-plane-1", "nixlab-workers-1", "nixlab-workers-2"}
	workers := []string{"nixlab-workers-1", "nixlab-workers-2"}
	cases := []struct {
		name string
		// setting is the RebootSettings entry the case exercises, if any.
		setting         string
		before, after   map[string]string
		reboot, replace []string
		change          string // a change every restarted node shows
		added, removed  []string
	}{
		{name: "nothing changed"},
		{name: "worker cores", setting: "nixlab:nodeGroups.<group>.cores",
			after: map[string]string{"%CORES%": "4"}, reboot: workers, change: "cpu.cores 2 -> 4"},
		{name: "control-plane memory", setting: "nixlab:nodeGroups.<group>.memoryMb",
			after:  map[string]string{"extra": ""},
			reboot: []string{"nixlab-control-plane-1"}, change: "memory.dedicated 4096 -> 8192"},
		{name: "bridge", setting: "nixlab:proxmox.bridge",
			after: map[string]string{"extra": "PROXMOX:    bridge: vmbr1"}, reboot: all, change: "networkDevices[0].bridge vmbr0 -> vmbr1"},
		{name: "dhcp to static", setting: "nixlab:network",
			after: static, reboot: all, change: "initialization.ipConfigs[0].ipv4.address dhcp -> "},
		{name: "static host offset", setting: "nixlab:nodeGroups.<group>.hostOffset (static network)",
			before: static, after: with(static, "%WOFF%", ", hostOffset: 41"), reboot: workers,
			change: "initialization.ipConfigs[0].ipv4.address 192.168.1.3"},
		{name: "disk size grows online", after: map[string]string{"%DISK%": "30"}},
		// Clones ignore their cloud-init user (components.CloneIgnoreChanges):
		// running nodes keep the user they were cloned with.
		{name: "admin user leaves running nodes alone", after: map[string]string{"extra": "  nixlab:adminUser: admin\n"}},
		// The disk moves to the new storage: the provider stops and starts
		// the VM; the clone source (clone.datastoreId) is ignored.
		{name: "vm storage", setting: "nixlab:proxmox.vmStorage",
			after: map[string]string{"extra": "PROXMOX:    vmStorage: fast"}, reboot: all, change: "disks[0].datastoreId local-lvm -> fast"},
		// Fixed VM IDs force replacement.
		{name: "vm IDs replace", after: map[string]string{"%WSTART%": "9300"}, replace: workers, change: "vmId 92"},
		{name: "scale up", after: map[string]string{"%COUNT%": "3"}, added: []string{"nixlab-workers-3"}},
		{name: "scale down", after: map[string]string{"%COUNT%": "1"}, removed: []string{"nixlab-workers-2"}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			render := func(edit map[string]string) string {
				s := rebootStack(edit)
				if extra := edit["extra"]; strings.HasPrefix(extra, "PROXMOX:") {
					s = strings.Replace(strings.TrimSuffix(s, extra), "    node: pve\n", "    node: pve\n"+strings.TrimPrefix(extra, "PROXMOX:")+"\n", 1)
				}
				if c.name == "control-plane memory" && edit != nil {
					s = strings.Replace(s, "cores: 2, memoryMb: 4096", "cores: 2, memoryMb: 8192", 1)
				}
				return s
			}
			dir := tempProject(t, map[string]string{"before": render(c.before), "after": render(orEmpty(c.after))})
			old := viaJSON(t, build(t, dir, "before"))
			p := build(t, dir, "after")
			got := p.CompareWith(old, "before.json")
			var reboot, replace []string
			for _, r := range got.Restarts {
				text := make([]string, 0, len(r.Changes))
				for _, ch := range r.Changes {
					text = append(text, ch.String())
				}
				if c.change != "" && !strings.Contains(strings.Join(text, "; "), c.change) {
					t.Errorf("%s: changes %q lack %q", r.Node, text, c.change)
				}
				if r.Replace {
					replace = append(replace, r.Node)
				} else {
					reboot = append(reboot, r.Node)
				}
			}
			if !reflect.DeepEqual(reboot, c.reboot) || !reflect.DeepEqual(replace, c.replace) {
				t.Errorf("reboot %q replace %q, want reboot %q replace %q\n%+v", reboot, replace, c.reboot, c.replace, got.Restarts)
			}
			if !reflect.DeepEqual(got.Added, orNone(c.added)) || !reflect.DeepEqual(got.Removed, orNone(c.removed)) {
				t.Errorf("added %q removed %q, want %q %q", got.Added, got.Removed, c.added, c.removed)
			}
			text := renderText(t, p)
			switch {
			case len(c.reboot) == 0 && !strings.Contains(text, "Reboots (compared with before.json)\n  no node reboots\n"):
				t.Errorf("text does not say no node reboots:\n%s", text)
			case len(c.reboot) > 0 && !strings.Contains(text, "  will reboot: "+c.reboot[0]+" ("):
				t.Errorf("text does not list the reboots:\n%s", text)
			}
			if len(c.replace) > 0 && !strings.Contains(text, "  will replace (destroy and clone again, disk included): ") {
				t.Errorf("text does not list the replacements:\n%s", text)
			}
		})
		if c.setting != "" && len(c.reboot) > 0 && len(c.replace) == 0 {
			covered[c.setting] = true
		}
	}
	for _, s := range RebootSettings {
		if !covered[s] {
			t.Errorf("RebootSettings lists %q, which no case shows to reboot nodes", s)
		}
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func renderText(t *testing.T, p *Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.Write(&b, FormatText); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRestartInputs(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	dir := tempProject(t, map[string]string{"s": stackYAML("", staticNetwork, staticGroups)})
	p := build(t, dir, "s")
	for _, n := range p.Nodes {
		for _, in := range n.RestartInputs {
			if strings.Contains(in.Value, "PRIVATE KEY") || strings.Contains(in.Value, "ssh-ed25519") {
				t.Errorf("%s: %s holds key material", n.Name, in.Key)
			}
			// A clone ignores its source and its cloud-init user
			// (components.CloneIgnoreChanges): changes there restart nothing.
			if strings.HasPrefix(in.Key, "clone.") || strings.HasPrefix(in.Key, "initialization.userAccount") {
				t.Errorf("%s: ignored input %s listed", n.Name, in.Key)
			}
		}
		if v, ok := n.RestartInputs.Get("cpu.cores"); !ok || v != "2" {
			t.Errorf("%s: cpu.cores = %q (present %v)", n.Name, v, ok)
		}
		if addr, _ := n.RestartInputs.Get("initialization.ipConfigs[0].ipv4.address"); !strings.HasPrefix(addr, n.Address+"/") {
			t.Errorf("%s: address input %q, node address %q", n.Name, addr, n.Address)
		}
	}
}

func TestReadJSONRefusesOtherDocuments(t *testing.T) {
	for _, doc := range []string{`{}`, `{"project":"nixlab"}`, `[1]`, `not json`, `{"project":"nixlab","stack":"lab","nodes":[{"restartInputs":[1]}]}`} {
		if _, err := ReadJSON(strings.NewReader(doc)); err == nil {
			t.Errorf("ReadJSON(%s) succeeded", doc)
		}
	}
}

func TestCheckStackName(t *testing.T) {
	for _, c := range []struct {
		name string
		want string // "" for valid
	}{
		{"lab", ""},
		{"prod-2.eu_west", ""},
		{"", "must not be empty"},
		{"../lab", "path separator"},
		{"a/b", "path separator"},
		{`a\b`, "path separator"},
		{"org/project/lab", "path separator"},
		{"..", `must not contain ".."`},
		{"a..b", `must not contain ".."`},
		{"lab yaml", "may only contain"},
		{strings.Repeat("x", 101), "cannot exceed 100"},
	} {
		err := CheckStackName(c.name)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckStackName(%q) = %v, want %q", c.name, err, c.want)
		}
	}
	dir := tempProject(t, map[string]string{"lab": stackYAML("", dhcpNetwork, dhcpGroups)})
	if _, err := Build(dir, "../"+dir[strings.LastIndex(dir, "/")+1:]+"/lab"); err == nil || !strings.Contains(err.Error(), "path separator") {
		t.Errorf("Build with a path in the stack name: %v", err)
	}
}

// TestBuildContextStops checks that a cancelled context stops a plan:
// before it starts, and while the program registers resources.
func TestBuildContextStops(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	dir := tempProject(t, map[string]string{"lab": stackYAML("", dhcpNetwork, dhcpGroups)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildContext(ctx, dir, "lab"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: err = %v", err)
	}

	// Mid-build: the context is cancelled once the program runs under
	// the plan's engine; its registrations must be refused and the build
	// must end with the context's error, in seconds (not hang).
	proj, err := readProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := readStackConfig(dir, "lab", proj)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	program := func(pctx *pulumi.Context) (*stack.Config, *stack.Lab, error) {
		cancel()
		return stack.Run(pctx, dir)
	}
	done := make(chan error, 1)
	go func() {
		_, err := buildPlan(ctx, proj, "lab", sc, stackFilePath(dir, "lab"), program, dir)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped") {
			t.Fatalf("err = %v, want a stop with context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled plan did not stop within 20s")
	}
}

func TestIgnoredAndReplaces(t *testing.T) {
	ignore := []string{"clone", "initialization.userAccount", "disks[0].speed", "networkDevices[*].mtu"}
	for _, c := range []struct {
		path             string
		ignored, replace bool
	}{
		{"clone.vmId", true, true},
		{"clone", true, true},
		{"cloneX", false, false},
		{"initialization.userAccount.keys[0]", true, true},
		{"initialization.ipConfigs[0].ipv4.address", false, false},
		{"disks[0].speed.read", true, false},
		{"disks[1].speed.read", false, false},
		{"networkDevices[3].mtu", true, false},
		{"disks[2].fileId", false, true},
		{"vmId", false, true},
		{"efiDisk.type", false, true},
	} {
		if got := ignored(c.path, ignore); got != c.ignored {
			t.Errorf("ignored(%q) = %v, want %v", c.path, got, c.ignored)
		}
		if got := replacesVM(c.path); got != c.replace {
			t.Errorf("replacesVM(%q) = %v, want %v", c.path, got, c.replace)
		}
	}
}

func TestAnyIndex(t *testing.T) {
	for in, want := range map[string]string{
		"cpu.cores":                      "cpu.cores",
		"disks[0].aio":                   "disks[*].aio",
		"a[12].b[3]":                     "a[*].b[*]",
		"odd[x].y[]":                     "odd[x].y[]",
		"initialization.ipConfigs[0].ip": "initialization.ipConfigs[*].ip",
	} {
		if got := anyIndex(in); got != want {
			t.Errorf("anyIndex(%q) = %q, want %q", in, got, want)
		}
	}
}
