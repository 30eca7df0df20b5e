package plan

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/internal/testutil"
)

// syntheticRegistrations is a stack shaped like nixlab's for n nodes,
// without the Pulumi SDK: a template VM, then per node a clone (waiting for
// the previous node's readiness check) and its readiness check.
func syntheticRegistrations(n int) []*registration {
	const prefix = "urn:pulumi:lab::nixlab::"
	template := &registration{
		urn: prefix + "proxmoxve:VM/virtualMachine:VirtualMachine::template-vm", typ: typeVM, name: "template-vm", custom: true,
		inputs: resource.NewPropertyMapFromMap(map[string]any{"vmId": 9000, "name": "nixlab-template"}),
	}
	regs := []*registration{template}
	prev := template.urn
	for i := 1; i <= n; i++ {
		vm := &registration{
			urn: fmt.Sprintf("%sproxmoxve:VM/virtualMachine:VirtualMachine::workers-%d", prefix, i), typ: typeVM,
			name: fmt.Sprintf("workers-%d", i), custom: true, deps: []string{prev, template.urn},
			inputs: resource.NewPropertyMapFromMap(map[string]any{
				"vmId": 10000 + i, "name": fmt.Sprintf("nixlab-workers-%d", i),
				"clone":  map[string]any{"vmId": 9000},
				"cpu":    map[string]any{"cores": 2},
				"memory": map[string]any{"dedicated": 4096},
			}),
		}
		ready := &registration{
			urn: fmt.Sprintf("%scommand:remote:Command::workers-%d-ready", prefix, i), typ: typeRemoteCommand,
			name: fmt.Sprintf("workers-%d-ready", i), custom: true, deps: []string{vm.urn},
			inputs: resource.NewPropertyMapFromMap(map[string]any{"create": fmt.Sprintf("bash -c 'echo ready' node-ready nixlab-workers-%d", i)}),
		}
		regs = append(regs, vm, ready)
		prev = ready.urn
	}
	return regs
}

// planTime is the least CPU time (not wall time, which a busy machine
// stretches) of three runs of the plan's own work on n
// synthetic nodes (resources, edges, order, summaries and the text); it
// stops early after a run longer than limit (0: no limit), so a quadratic
// plan fails the test in seconds.
func planTime(t *testing.T, n int, limit time.Duration) time.Duration {
	t.Helper()
	regs := syntheticRegistrations(n)
	best := time.Duration(1<<63 - 1)
	for range 3 {
		if limit > 0 && best != time.Duration(1<<63-1) && best > limit {
			break
		}
		start := testutil.CPUTime(t)
		p := &Plan{}
		p.addResources(regs)
		if err := p.Write(io.Discard, FormatText); err != nil {
			t.Fatal(err)
		}
		best = min(best, testutil.CPUTime(t)-start)
		if len(p.Resources) != 2*n+1 {
			t.Fatalf("%d resources for %d nodes", len(p.Resources), n)
		}
	}
	return best
}

// TestPlanIsLinear: ten times the nodes must cost about ten times as much
// (up to 30x for noise on a shared machine), not a hundred (what naming
// every clone's source by a scan of all resources cost).
func TestPlanIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	small := planTime(t, 250, 0)
	large := planTime(t, 2500, 60*small)
	ratio := float64(large) / float64(small)
	t.Logf("250 nodes %v, 2500 nodes %v: %.1fx", small, large, ratio)
	if ratio > 30 {
		t.Errorf("2500 nodes cost %.1fx of 250 nodes (%v vs %v): the plan is not linear", ratio, large, small)
	}
}
