package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
	slices.Sort(added)
	if want := []string{"workers-3", "workers-3-address", "workers-3-kube-join", "workers-3-kube-node", "workers-3-kube-prepare", "workers-3-ready",
		"workers-4", "workers-4-address", "workers-4-kube-join", "workers-4-kube-node", "workers-4-kube-prepare", "workers-4-ready"}; !slices.Equal(added, want) {
		t.Errorf("scaling 2 -> 4 workers created %v, want %v", added, want)
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
	want := []string{"workers-1", "workers-1-ready", "workers-2", "workers-2-ready", "workers-3", "workers-3-ready"}
	if !slices.Equal(names, want) {
		t.Fatalf("more worker cores changes %v, want %v", names, want)
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
		if deps := second.regs[vmName].RegisterRPC.GetDependencies(); !slices.Contains(deps, second.regs[prev].URN) {
			t.Errorf("%s is updated (rebooted) without waiting for %s", vmName, prev)
		}
	}
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
	slices.Sort(removed)
	if want := []string{"workers-2", "workers-2-address", "workers-2-kube-join", "workers-2-kube-node", "workers-2-kube-prepare", "workers-2-ready",
		"workers-3", "workers-3-address", "workers-3-kube-join", "workers-3-kube-node", "workers-3-kube-prepare", "workers-3-ready"}; !slices.Equal(removed, want) {
		t.Errorf("scaling 3 -> 1 workers removes %v, want %v", removed, want)
	}
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
