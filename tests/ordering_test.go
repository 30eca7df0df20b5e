package tests

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// waitsFor reports whether resource from is registered only after resource
// to: to is among from's dependencies, directly or through a chain of them.
// The engine registers a resource once every resource it names as a
// dependency has been processed, so this is the order of the operations.
// Only the URNs the program sent count; a dependency on a component
// resource does not wait for the component's children.
func waitsFor(t *testing.T, rec *recorder, from, to string) bool {
	t.Helper()
	rec.get(t, from)
	target := rec.get(t, to).URN
	byURN := map[string]registration{}
	for _, name := range rec.names() {
		reg := rec.get(t, name)
		byURN[reg.URN] = reg
	}
	seen := map[string]bool{}
	queue := []string{rec.get(t, from).URN}
	for len(queue) > 0 {
		urn := queue[0]
		queue = queue[1:]
		reg, ok := byURN[urn]
		if !ok || reg.RegisterRPC == nil {
			continue
		}
		for _, dep := range reg.RegisterRPC.GetDependencies() {
			if dep == target {
				return true
			}
			if !seen[dep] {
				seen[dep] = true
				queue = append(queue, dep)
			}
		}
	}
	return false
}

// assertCloneChain checks that the clones form one chain in exactly the
// order given: each clone waits (directly or through the chain, whatever the
// links are made of) for the clone before it, and the first one waits for no
// other clone. With a total order among the clones, no two run together and
// none starts before an earlier one is done.
func assertCloneChain(t *testing.T, rec *recorder, order []string) {
	t.Helper()
	for i := 1; i < len(order); i++ {
		if !waitsFor(t, rec, order[i], order[i-1]) {
			t.Errorf("%s does not wait for %s: the clone chain is broken", order[i], order[i-1])
		}
	}
	for _, other := range order[1:] {
		if waitsFor(t, rec, order[0], other) {
			t.Errorf("the first clone %s waits for %s", order[0], other)
		}
	}
	// Every clone waits for the template conversion.
	for _, n := range order {
		if !waitsFor(t, rec, n, "template-finalize") {
			t.Errorf("%s does not wait for the template conversion", n)
		}
	}
}

// deployOrdered runs the lab under mocks and returns the recorder, the
// group order and the VM names of the `nodes` stack output as listed.
func deployOrdered(t *testing.T, groups string) (*recorder, []string, []string) {
	t.Helper()
	// Several control planes would need an API endpoint; the clone order
	// does not depend on the cluster.
	cfg := labConfig(t, map[string]string{"nixlab:nodeGroups": groups, "nixlab:kubernetes": `{"enabled":false}`})
	var listed, order []string
	rec, err := runMocked(t, cfg, false, withLab(func(ctx *pulumi.Context, c *stack.Config, lab *stack.Lab) error {
		order = c.GroupOrder()
		out, err := await(ctx, stack.Outputs(ctx, c, lab)[stack.OutputNodes].(pulumi.Output))
		if err != nil {
			return err
		}
		for _, n := range out.Value.([]any) {
			listed = append(listed, n.(map[string]any)["name"].(string))
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("deploy under mocks: %v", err)
	}
	return rec, order, listed
}

func TestCloneChainOrder(t *testing.T) {
	cases := []struct {
		name   string
		groups string
		// groups in clone order, clones in clone order
		groupOrder []string
		clones     []string
	}{
		{
			// An empty group between two others passes the chain on.
			name:       "empty group between two groups",
			groups:     `{"a":{"role":"control-plane","count":2,"vmIdStart":9100},"b":{"role":"worker","count":0,"vmIdStart":9200},"c":{"role":"worker","count":2,"vmIdStart":9300}}`,
			groupOrder: []string{"a", "b", "c"},
			clones:     []string{"a-1", "a-2", "c-1", "c-2"},
		},
		{
			// Empty groups of either role, first in the order and between
			// the roles.
			name:       "empty groups first and between roles",
			groups:     `{"a":{"role":"control-plane","count":0,"vmIdStart":9500},"b":{"role":"control-plane","count":1,"vmIdStart":9100},"c":{"role":"worker","count":0,"vmIdStart":9200},"d":{"role":"worker","count":2,"vmIdStart":9300},"e":{"role":"worker","count":0,"vmIdStart":9400}}`,
			groupOrder: []string{"a", "b", "c", "d", "e"},
			clones:     []string{"b-1", "d-1", "d-2"},
		},
		{
			// Control planes first although the worker groups' names sort
			// before theirs; within a role, by name.
			name:       "control planes first",
			groups:     `{"aaa":{"role":"worker","count":2,"vmIdStart":9300},"bbb":{"role":"worker","count":1,"vmIdStart":9400},"zzz":{"role":"control-plane","count":1,"vmIdStart":9100},"mmm":{"role":"control-plane","count":2,"vmIdStart":9200}}`,
			groupOrder: []string{"mmm", "zzz", "aaa", "bbb"},
			clones:     []string{"mmm-1", "mmm-2", "zzz-1", "aaa-1", "aaa-2", "bbb-1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, order, listed := deployOrdered(t, tc.groups)
			if !slices.Equal(order, tc.groupOrder) {
				t.Errorf("GroupOrder() = %v, want %v", order, tc.groupOrder)
			}
			assertCloneChain(t, rec, tc.clones)
			// The nodes output lists the nodes in the same order.
			want := make([]string, len(tc.clones))
			for i, c := range tc.clones {
				want[i] = fmt.Sprintf("nixlab-%s", c)
			}
			if !slices.Equal(listed, want) {
				t.Errorf("nodes output lists %v, want %v", listed, want)
			}
		})
	}
}
