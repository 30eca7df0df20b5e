package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// afterFinalize is the world after a first `up`: finalize powered the
// installer VM off, detached its CD and made it a template.
var afterFinalize = map[string]providermodel.VMStatus{
	"template-vm": {Stopped: true, Template: true, CdromDetached: true},
}

// secondRun runs the program once on cfg, refreshes the state in the world
// after finalize, and runs it again on cfg2 with that state.
func secondRun(t *testing.T, cfg, cfg2 map[string]string, program pulumi.RunFunc) (first, second *recorder) {
	t.Helper()
	first, err := runMocked(t, cfg, false, program)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	prior := refreshed(first.stateSnapshot(), afterFinalize)
	second, err = runAgain(t, cfg2, false, program, prior, afterFinalize)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	return first, second
}

// changedResources lists the resources whose diff is not empty, with it.
func changedResources(rec *recorder) map[string]providermodel.DiffResult {
	out := map[string]providermodel.DiffResult{}
	for name, d := range rec.diffs {
		if !d.Empty() {
			out[name] = d
		}
	}
	return out
}

// TestSecondRunChangesNothing: a second `up` on the same config, after a
// refresh that reads the template stopped and converted, diffs nothing.
func TestSecondRunChangesNothing(t *testing.T) {
	for _, v := range contractVariants {
		t.Run(v.name, func(t *testing.T) {
			cfg := labConfig(t, v.overrides)
			first, second := secondRun(t, cfg, cfg, stack.Program)
			if got := changedResources(second); len(got) != 0 {
				t.Errorf("second run changes %v", got)
			}
			for name := range first.regs {
				if _, ok := second.regs[name]; !ok {
					t.Errorf("%s is gone in the second run", name)
				}
			}
			for name := range second.regs {
				if _, ok := first.regs[name]; !ok {
					t.Errorf("%s is new in the second run", name)
				}
			}
			for name := range second.regs {
				if strings.HasSuffix(name, "-ready") {
					if _, diffed := second.diffs[name]; !diffed {
						t.Errorf("%s was not compared with its state", name)
					}
				}
			}
		})
	}
}

// TestSecondRunAfterScalingOnlyAddsNodes: with state, scaling up changes no
// existing resource and adds exactly the new nodes.
func TestSecondRunAfterScalingOnlyAddsNodes(t *testing.T) {
	state := t.TempDir()
	_, second := secondRun(t, workersConfig(t, state, 2), workersConfig(t, state, 4), stack.Program)
	if got := changedResources(second); len(got) != 0 {
		t.Errorf("scaling up changes existing resources: %v", got)
	}
	var added []string
	for name := range second.regs {
		if _, ok := second.diffs[name]; !ok && second.regs[name].Custom {
			added = append(added, name)
		}
	}
	checkNodeResources(t, "scaling 2 -> 4 workers creates", added, []string{"workers-3", "workers-4"},
		"", "-address", "-kube-join", "-kube-node", "-kube-prepare", "-ready")
}

// checkNodeResources fails unless names are resources of the given nodes
// only (the node's VM, named like the node, or a step named <node>-...) and
// hold each node's VM and the steps with the given suffixes. Further steps
// of a node (roll, drain) may be there: what they are is for their own
// tests; that nothing outside these nodes is touched is checked here.
func checkNodeResources(t *testing.T, what string, names, nodes []string, suffixes ...string) {
	t.Helper()
	slices.Sort(names)
	for _, n := range names {
		if !slices.ContainsFunc(nodes, func(node string) bool { return n == node || strings.HasPrefix(n, node+"-") }) {
			t.Errorf("%s %s, which is not a resource of %v (all: %v)", what, n, nodes, names)
		}
	}
	for _, node := range nodes {
		for _, suffix := range suffixes {
			if !slices.Contains(names, node+suffix) {
				t.Errorf("%s no %s%s (all: %v)", what, node, suffix, names)
			}
		}
	}
}

// TestNodesKeepTheirLoginUser: each node keeps the login user it was cloned
// with (initialization.userAccount is ignored, so the provider keeps it in
// state); a node cloned after the change gets the new one.
func TestNodesKeepTheirLoginUser(t *testing.T) {
	state := t.TempDir()
	cfgA := workersConfig(t, state, 2)
	cfgB := workersConfig(t, state, 3)
	cfgB["nixlab:adminUser"] = "ops"
	users := map[string]string{}
	program := withLab(func(ctx *pulumi.Context, _ *stack.Config, lab *stack.Lab) error {
		for _, g := range lab.NodeGroups {
			for _, n := range g.Nodes {
				u, err := await(ctx, n.User)
				if err != nil {
					return err
				}
				if u.Secret {
					t.Errorf("%s: the login user is secret; the inventory and ssh outputs would be too", n.Name)
				}
				users[n.Name] = u.Value.(string)
			}
		}
		return nil
	})
	_, second := secondRun(t, cfgA, cfgB, program)
	want := map[string]string{
		"nixlab-control-plane-1": "nixos", "nixlab-workers-1": "nixos", "nixlab-workers-2": "nixos",
		"nixlab-workers-3": "ops",
	}
	for name, u := range want {
		if users[name] != u {
			t.Errorf("%s logs in as %q, want %q", name, users[name], u)
		}
	}
	for _, n := range []string{"control-plane-1", "workers-1", "workers-2"} {
		if d := second.diffs[n]; !d.Empty() {
			t.Errorf("%s: a new admin user changes the running node: %v", n, d.Changed)
		}
	}
}

// TestRebootingUpdateGoesOneNodeAtATime: more cores for the workers is an
// in-place update that reboots them (cpu is a reboot field); each worker's
// readiness check runs again, and each VM update waits for the previous
// node's check. Nothing else changes.
func TestRebootingUpdateGoesOneNodeAtATime(t *testing.T) {
	state := t.TempDir()
	groups := func(cores int) string {
		return fmt.Sprintf(`{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100},"workers":{"role":"worker","count":3,"vmIdStart":9200,"cores":%d}}`, cores)
	}
	cfg := labConfig(t, map[string]string{"nixlab:nodeGroups": groups(2), "nixlab:stateDir": state})
	cfg2 := labConfig(t, map[string]string{"nixlab:nodeGroups": groups(4), "nixlab:stateDir": state})
	_, second := secondRun(t, cfg, cfg2, stack.Program)

	changed := changedResources(second)
	var names []string
	for n := range changed {
		names = append(names, n)
	}
	slices.Sort(names)
	checkNodeResources(t, "more worker cores changes", names, []string{"workers-1", "workers-2", "workers-3"}, "", "-ready")
	if t.Failed() {
		t.FailNow()
	}
	for i := 1; i <= 3; i++ {
		vmName := fmt.Sprintf("workers-%d", i)
		d := changed[vmName]
		if d.Replace || !slices.Equal(providermodel.RebootingChanges(d), []string{"cpu.cores"}) {
			t.Errorf("%s: diff %+v, want an in-place cpu.cores update (a reboot)", vmName, d)
		}
		if r := changed[vmName+"-ready"]; !r.Replace {
			t.Errorf("%s-ready does not run again after the reboot: %+v", vmName, r)
		}
		prev := "control-plane-1-ready"
		if i > 1 {
			prev = fmt.Sprintf("workers-%d-ready", i-1)
		}
		if !second.waitsFor(vmName, prev) {
			t.Errorf("%s is updated (rebooted) without waiting for %s", vmName, prev)
		}
	}
}

// waitsFor reports whether resource from depends on resource on, directly
// or through other resources' dependsOn (a drain step between them, say).
func (r *recorder) waitsFor(from, on string) bool {
	byURN := map[string]registration{}
	for _, reg := range r.regs {
		byURN[reg.URN] = reg
	}
	target := r.regs[on].URN
	seen := map[string]bool{}
	queue := []string{r.regs[from].URN}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if seen[u] {
			continue
		}
		seen[u] = true
		reg, ok := byURN[u]
		if !ok || reg.RegisterRPC == nil {
			continue
		}
		for _, d := range reg.RegisterRPC.GetDependencies() {
			if d == target {
				return true
			}
			queue = append(queue, d)
		}
	}
	return false
}

// TestSecondRunAfterScalingDownOnlyRemovesNodes: with state, scaling down
// changes no remaining resource and drops exactly the highest nodes.
func TestSecondRunAfterScalingDownOnlyRemovesNodes(t *testing.T) {
	state := t.TempDir()
	first, second := secondRun(t, workersConfig(t, state, 3), workersConfig(t, state, 1), stack.Program)
	if got := changedResources(second); len(got) != 0 {
		t.Errorf("scaling down changes remaining resources: %v", got)
	}
	var removed []string
	for name := range first.regs {
		if _, ok := second.regs[name]; !ok {
			removed = append(removed, name)
		}
	}
	checkNodeResources(t, "scaling 3 -> 1 workers removes", removed, []string{"workers-2", "workers-3"},
		"", "-address", "-kube-join", "-kube-node", "-kube-prepare", "-ready")
}

// TestCloudInitChangeLooksUpAddressesAgain: new DNS servers are a cloud-init
// update that reboots every node (one at a time); in DHCP mode each node's
// lease is looked up again after its reboot, then checked.
func TestCloudInitChangeLooksUpAddressesAgain(t *testing.T) {
	state := t.TempDir()
	cfg := labConfig(t, map[string]string{"nixlab:stateDir": state})
	cfg2 := labConfig(t, map[string]string{"nixlab:stateDir": state, "nixlab:network": `{"mode":"dhcp","dns":["1.1.1.1"]}`})
	_, second := secondRun(t, cfg, cfg2, stack.Program)
	changed := changedResources(second)
	for _, n := range labNodes {
		if d := changed[n.res]; d.Replace || !slices.Contains(providermodel.RebootingChanges(d), "initialization.dns") {
			t.Errorf("%s: %+v, want an in-place dns update (a reboot)", n.res, d)
		}
		for _, step := range []string{"-address", "-ready"} {
			if d := changed[n.res+step]; !d.Replace {
				t.Errorf("%s%s does not run again after the reboot: %+v", n.res, step, d)
			}
		}
	}
	for name := range changed {
		if strings.HasPrefix(name, "template") {
			t.Errorf("a clone-time setting changes %s", name)
		}
	}
}

// TestReadinessRunsAgainExactlyWhenTheNodeReboots: for a range of config
// changes, a node's readiness check is replaced (runs again, and gates the
// next node) exactly when the provider's diff of its VM has a change that
// reboots it (providermodel.RebootingChanges), or when the VM is replaced.
// The triggers are derived from the clone's args, so no reboot field can
// bypass the one-node-at-a-time gate, and a change without a reboot
// (cluster name: VM name and tags; disk growth) re-checks nothing.
func TestReadinessRunsAgainExactlyWhenTheNodeReboots(t *testing.T) {
	groups := func(cores, mem, disk int) string {
		return fmt.Sprintf(`{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100},`+
			`"workers":{"role":"worker","count":2,"vmIdStart":9200,"cores":%d,"memoryMb":%d,"diskSizeGb":%d}}`, cores, mem, disk)
	}
	base := map[string]string{"nixlab:nodeGroups": groups(2, 4096, 20)}
	for _, c := range []struct {
		name      string
		overrides map[string]string
	}{
		{"cores", map[string]string{"nixlab:nodeGroups": groups(4, 4096, 20)}},
		{"memory", map[string]string{"nixlab:nodeGroups": groups(2, 8192, 20)}},
		{"disk growth", map[string]string{"nixlab:nodeGroups": groups(2, 4096, 40)}},
		{"cluster name", map[string]string{"nixlab:clusterName": "lab2"}},
		{"dns", map[string]string{"nixlab:network": `{"mode":"dhcp","dns":["1.1.1.1"]}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := t.TempDir()
			over := map[string]string{"nixlab:stateDir": state}
			for k, v := range base {
				over[k] = v
			}
			cfg := labConfig(t, over)
			for k, v := range c.overrides {
				over[k] = v
			}
			cfg2 := labConfig(t, over)
			_, second := secondRun(t, cfg, cfg2, stack.Program)
			nodes, changedVMs := 0, 0
			for name, reg := range second.regs {
				if reg.TypeToken != providermodel.TypeVM || name == "template-vm" {
					continue
				}
				nodes++
				d := second.diffs[name]
				if !d.Empty() {
					changedVMs++
				}
				reboots := d.Replace || len(providermodel.RebootingChanges(d)) > 0
				if r := second.diffs[name+"-ready"]; r.Replace != reboots {
					t.Errorf("%s: VM diff %+v (reboot %v), but %s-ready replaced = %v", name, d, reboots, name, r.Replace)
				}
			}
			if nodes != 3 || changedVMs == 0 {
				t.Fatalf("%d nodes compared (want 3), %d changed (want some): the case tests nothing", nodes, changedVMs)
			}
		})
	}
}

// envOf is the environment a resource's state holds (what its provider ran
// with, ignoreChanges applied), as plain strings.
func envOf(t *testing.T, st resState) map[string]string {
	t.Helper()
	env := revealed(st.Inputs["environment"])
	if !env.IsObject() {
		t.Fatalf("state environment %v", env)
	}
	out := map[string]string{}
	for k, v := range env.ObjectValue() {
		if v.IsString() {
			out[string(k)] = v.StringValue()
		}
	}
	return out
}

// templateRuns runs the program twice (cfg, then cfg2 on the first run's
// state) and returns each run's template.
func templateRuns(t *testing.T, cfg, cfg2 map[string]string) (first, second *recorder, t1, t2 *components.NixOSTemplate) {
	t.Helper()
	var templates []*components.NixOSTemplate
	program := withLab(func(_ *pulumi.Context, _ *stack.Config, lab *stack.Lab) error {
		templates = append(templates, lab.Template)
		return nil
	})
	first, second = secondRun(t, cfg, cfg2, program)
	if len(templates) != 2 {
		t.Fatalf("%d runs", len(templates))
	}
	return first, second, templates[0], templates[1]
}

// TestImageChangeReplacesBuildsWithTheNewEnvironment: a new content hash
// replaces the system build, the ISO build, the upload, the VM and
// finalize, and each replacement runs with this run's values: the new flake
// directory (rendered by this run), GC roots and ISO file name. The engine
// keeps an ignored input's stored value on a replacement (the mock does as
// generateSteps does), so an ignored environment would rebuild the old
// flake and upload it under the old name, which the old upload's delete
// then removes.
func TestImageChangeReplacesBuildsWithTheNewEnvironment(t *testing.T) {
	state := t.TempDir()
	cfg := labConfig(t, map[string]string{"nixlab:stateDir": state, "nixlab:timezone": "UTC"})
	cfg2 := labConfig(t, map[string]string{"nixlab:stateDir": state, "nixlab:timezone": "Europe/Berlin"})
	_, second, t1, t2 := templateRuns(t, cfg, cfg2)
	if t1.Hash == t2.Hash || t1.NodeSystemHash == t2.NodeSystemHash {
		t.Fatalf("a time zone change kept a hash: image %s/%s, node system %s/%s", t1.Hash, t2.Hash, t1.NodeSystemHash, t2.NodeSystemHash)
	}
	short, nodeShort := t2.Hash[:16], t2.NodeSystemHash[:16]
	flakeDir := filepath.Join(state, "src", short)
	if _, err := os.Stat(filepath.Join(flakeDir, "flake.nix")); err != nil {
		t.Errorf("the flake the builds read was not rendered by this run: %v", err)
	}
	states := second.stateSnapshot()
	for _, name := range []string{"template-system", "template-build", "template-upload", "template-vm", "template-finalize"} {
		if d := second.diffs[name]; !d.Replace {
			t.Errorf("%s: diff %+v, want a replacement", name, d)
		}
	}

	sys := envOf(t, states["template-system"])
	if sys["NIXLAB_FLAKE_DIR"] != flakeDir || sys["NIXLAB_OUT_LINK"] != filepath.Join(state, "system", nodeShort) {
		t.Errorf("replaced system build ran with %v, want flake %s and GC root system/%s", sys, flakeDir, nodeShort)
	}
	build := envOf(t, states["template-build"])
	if t2.ISOFileName != t1.ISOFileName {
		t.Errorf("the ISO's name changed with the image (%s -> %s): the template VM keeps its ignored cdrom, so a new template would install the old file", t1.ISOFileName, t2.ISOFileName)
	}
	target := strings.TrimSuffix(strings.TrimPrefix(t2.ISOFileName, "nixlab-9000-"), ".iso")
	isoLink := filepath.Join(state, "iso", short+"-"+target)
	if build["NIXLAB_FLAKE_DIR"] != flakeDir || build["NIXLAB_OUT_LINK"] != isoLink {
		t.Errorf("replaced ISO build ran with %v, want flake %s and GC root %s", build, flakeDir, isoLink)
	}
	up := envOf(t, states["template-upload"])
	if up["NIXLAB_ISO_FILE_NAME"] != t2.ISOFileName || !strings.HasPrefix(up["NIXLAB_ISO_PATH"], isoLink+"/") {
		t.Errorf("replaced upload ran with ISO %q from %q, want %s from %s", up["NIXLAB_ISO_FILE_NAME"], up["NIXLAB_ISO_PATH"], t2.ISOFileName, isoLink)
	}
	if got := states["template-upload"].State["stdout"].StringValue(); got != "local:iso/"+t2.ISOFileName {
		t.Errorf("upload volume %q, want local:iso/%s", got, t2.ISOFileName)
	}
	// The replaced template VM boots what its stored (ignored) cdrom names:
	// that must be the file the new upload wrote.
	cd := revealed(states["template-vm"].Inputs["cdrom"])
	if !cd.IsObject() || cd.ObjectValue()["fileId"].StringValue() != "local:iso/"+t2.ISOFileName {
		t.Errorf("the new template VM boots %v, want local:iso/%s", cd, t2.ISOFileName)
	}
	if !second.get(t, "template-upload").RegisterRPC.GetDeleteBeforeReplace() {
		t.Error("the upload is replaced create-first: the old upload's delete would remove the new ISO of the same name")
	}
}

// TestAnotherCheckoutUpdatesTheBuildsInPlace: the same stack run from
// another checkout (another state directory: other absolute paths) builds
// nothing new: the system build, the ISO build and the upload are updated
// in place (local.Command's Update runs create again: a nix cache hit, and
// upload-iso.sh skips an ISO already on the host), nothing is replaced,
// and the VM and finalize are left alone.
func TestAnotherCheckoutUpdatesTheBuildsInPlace(t *testing.T) {
	stateA, stateB := t.TempDir(), t.TempDir()
	cfg := labConfig(t, map[string]string{"nixlab:stateDir": stateA})
	cfg2 := labConfig(t, map[string]string{"nixlab:stateDir": stateB})
	_, second, t1, t2 := templateRuns(t, cfg, cfg2)
	if t1.Hash != t2.Hash || t1.NodeSystemHash != t2.NodeSystemHash {
		t.Fatal("the state directory changed a hash")
	}
	var changed []string
	for name, d := range changedResources(second) {
		if !strings.HasPrefix(name, "template") {
			continue
		}
		changed = append(changed, name)
		if d.Replace || !slices.Equal(d.Changed, []string{"environment"}) {
			t.Errorf("%s: diff %+v, want an in-place environment update", name, d)
		}
	}
	slices.Sort(changed)
	if want := []string{"template-build", "template-system", "template-upload"}; !slices.Equal(changed, want) {
		t.Errorf("another checkout changes %v, want %v", changed, want)
	}
	states := second.stateSnapshot()
	if got := envOf(t, states["template-system"])["NIXLAB_OUT_LINK"]; got != filepath.Join(stateB, "system", t2.NodeSystemHash[:16]) {
		t.Errorf("system GC root %q is not in this checkout's state directory", got)
	}
	if got := envOf(t, states["template-upload"])["NIXLAB_ISO_PATH"]; !strings.HasPrefix(got, filepath.Join(stateB, "iso")+"/") {
		t.Errorf("upload reads %q, not this checkout's build", got)
	}
}

// TestNewTemplateVMIDFinalizesTheNewVM: a new template VM ID replaces the VM
// and finalize, and the replaced finalize converts the new VM: its create
// command (which carries the VM ID) is not ignored, so the replacement does
// not run with the stored one.
func TestNewTemplateVMIDFinalizesTheNewVM(t *testing.T) {
	state := t.TempDir()
	tmpl := func(vmID int) string {
		return fmt.Sprintf(`{"vmId":%d,"name":"nixlab-template","diskSizeGb":20,"swapSizeGb":2,"installTimeoutMinutes":60}`, vmID)
	}
	cfg := labConfig(t, map[string]string{"nixlab:stateDir": state, "nixlab:template": tmpl(9000)})
	cfg2 := labConfig(t, map[string]string{"nixlab:stateDir": state, "nixlab:template": tmpl(9001)})
	_, second := secondRun(t, cfg, cfg2, stack.Program)
	for _, name := range []string{"template-vm", "template-finalize"} {
		if d := second.diffs[name]; !d.Replace {
			t.Errorf("%s: diff %+v, want a replacement", name, d)
		}
	}
	create := second.stateSnapshot()["template-finalize"].Inputs["create"].StringValue()
	if !strings.Contains(create, "'finalize-template' '9001' ") {
		t.Errorf("the replaced finalize runs ...%s, want it to convert VM 9001", create[max(0, len(create)-80):])
	}
}
