package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// dependentReplacements plays the engine's rule for replacing a resource
// that has deleteBeforeReplace (pulumi/pulumi pkg/resource/deploy/
// step_generator.go, calculateDependentReplacements and its
// requiresReplacement): starting from the replaced roots, every custom
// resource with an input whose property dependencies point at a resource in
// the replace set gets that input made unknown, and the provider's Diff is
// called on it WITHOUT ignoreChanges; a dependent whose diff says "replace"
// joins the set (and is deleted at once, with the roots). Plain
// dependencies (dependsOn) are not considered ("If none of this resource's
// properties depend on a resource in the replace set ..."). The provider's
// Diff is the model's (internal/providermodel.Diff: ForceNew fields of the
// VM, `triggers` of a command). The engine walks the dependents in graph
// order; iterating to a fixpoint gives the same set, as the set only grows.
// It returns the replaced dependents' names, sorted.
func dependentReplacements(t *testing.T, rec *recorder, roots ...string) []string {
	t.Helper()
	states := rec.stateSnapshot()
	byURN := map[string]string{}
	for name, reg := range rec.regs {
		byURN[reg.URN] = name
	}
	replace := map[string]bool{}
	for _, r := range roots {
		rec.get(t, r)
		replace[r] = true
	}
	for changed := true; changed; {
		changed = false
		for name, reg := range rec.regs {
			if replace[name] || reg.RegisterRPC == nil || !reg.RegisterRPC.GetCustom() {
				continue
			}
			old, ok := states[name]
			if !ok {
				t.Fatalf("%s: no state recorded", name)
			}
			inputs := old.Inputs.Copy()
			hit := false
			for key, deps := range reg.RegisterRPC.GetPropertyDependencies() {
				for _, urn := range deps.GetUrns() {
					dep, known := byURN[urn]
					if !known {
						t.Fatalf("%s.%s depends on unknown URN %s", name, key, urn)
					}
					if replace[dep] {
						hit = true
						inputs[resource.PropertyKey(key)] = resource.MakeComputed(resource.NewStringProperty("<unknown>"))
					}
				}
			}
			if !hit {
				continue
			}
			d, err := providermodel.Diff(old.Type, old.Inputs, old.State, inputs, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d.Replace {
				replace[name] = true
				changed = true
			}
		}
	}
	var out []string
	for name := range replace {
		if !slices.Contains(roots, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// A new template (content hash change) replaces the template VM, which has
// deleteBeforeReplace: the engine then replaces at once every dependent that
// takes an input from it. Only the template's own resources may follow; a
// clone that did would delete every running node at the same time.
func TestTemplateRebuildReplacesNoNode(t *testing.T) {
	for _, v := range contractVariants {
		t.Run(v.name, func(t *testing.T) {
			rec, err := runMocked(t, labConfig(t, v.overrides), false, stack.Program)
			if err != nil {
				t.Fatal(err)
			}
			got := dependentReplacements(t, rec, "template-vm")
			if !slices.Contains(got, "template-finalize") {
				t.Errorf("the engine rule does not reach template-finalize (%v): the simulation is broken", got)
			}
			for _, name := range got {
				if !strings.HasPrefix(name, "template-") {
					t.Errorf("replacing the template VM replaces %s at once (all replaced: %v)", name, got)
				}
			}
		})
	}
}

// The same, starting from what a content-hash change really replaces: the
// second run decides which deleteBeforeReplace resources are replaced, and
// the engine rule runs on the first run's registrations (the engine uses
// the property dependencies of the previous snapshot).
func TestContentHashChangeReplacesOnlyTemplateResources(t *testing.T) {
	cfg := labConfig(t, nil)
	cfg2 := labConfig(t, map[string]string{"nixlab:timezone": "Europe/Berlin"})
	cfg2["nixlab:stateDir"] = cfg["nixlab:stateDir"]
	first, second := secondRun(t, cfg, cfg2, stack.Program)
	var roots []string
	for name, d := range second.diffs {
		if !d.Replace {
			continue
		}
		// The time zone is part of the node system too: each node's roll
		// step runs again (the roll, one node at a time).
		if !strings.HasPrefix(name, "template-") && !strings.HasSuffix(name, "-roll") {
			t.Errorf("a content-hash change replaces %s (%v)", name, d.Changed)
		}
		if second.get(t, name).RegisterRPC.GetDeleteBeforeReplace() {
			roots = append(roots, name)
		}
	}
	if !slices.Contains(roots, "template-vm") {
		t.Fatalf("a content-hash change does not replace the template VM (replaced with deleteBeforeReplace: %v)", roots)
	}
	for _, name := range dependentReplacements(t, first, roots...) {
		if !strings.HasPrefix(name, "template-") {
			t.Errorf("the template rebuild replaces %s at once", name)
		}
	}
}

// A replaced node (deleteBeforeReplace) takes its own checks and
// Kubernetes steps along (it leaves and joins again; the first control
// plane's are the cluster's init, kubeconfig and check, whose triggers
// name its VM, and the Kubernetes provider of the new cluster), never the
// next node.
func TestNodeReplacementStaysWithTheNode(t *testing.T) {
	rec, err := runMocked(t, labConfig(t, nil), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range labNodes {
		own := []string{n.res + "-ready", n.res + "-address"}
		if i == 0 {
			// A new first control plane is a new cluster: init runs again
			// (new CA), and the provider's identifier (cluster name and CA
			// hash) changes with it.
			own = append(own, n.res+"-kube-init", kubeconfigStep, kubeCheckStep, kubeProvider)
		} else {
			own = append(own, nodeSteps(n.res)...)
		}
		got := dependentReplacements(t, rec, n.res)
		for _, name := range got {
			if !slices.Contains(own, name) {
				t.Errorf("replacing %s replaces %s at once (all: %v)", n.res, name, got)
			}
		}
		if i > 0 {
			for _, s := range nodeSteps(n.res) {
				if !slices.Contains(got, s) {
					t.Errorf("replacing %s does not make it join again: %s stays (%v)", n.res, s, got)
				}
			}
		}
		if !slices.Contains(got, n.res+"-ready") {
			t.Errorf("replacing %s does not check it again (%v)", n.res, got)
		}
	}
}

// Clones take nothing from the template by property: the template's VM ID
// is a plain value, and the clone waits for the conversion by dependsOn.
func TestClonesHaveNoPropertyDependencyOnTheTemplate(t *testing.T) {
	rec, err := runMocked(t, labConfig(t, nil), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	finalize := rec.get(t, "template-finalize").URN
	template := map[string]bool{}
	for name, reg := range rec.regs {
		if strings.HasPrefix(name, "template-") || name == "template" {
			template[reg.URN] = true
		}
	}
	for _, n := range labNodes {
		reg := rec.get(t, n.res)
		for key, deps := range reg.RegisterRPC.GetPropertyDependencies() {
			for _, urn := range deps.GetUrns() {
				if template[urn] {
					t.Errorf("%s.%s has a property dependency on %s", n.res, key, urn)
				}
			}
		}
		if !slices.Contains(reg.RegisterRPC.GetDependencies(), finalize) {
			t.Errorf("%s does not wait for the template conversion", n.res)
		}
	}
}
