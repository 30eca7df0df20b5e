package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// contractInputs runs the program on cfg and returns, by resource name, the
// inputs and ignoreChanges it registered.
func contractInputs(t *testing.T, cfg map[string]string) map[string]registration {
	t.Helper()
	rec, err := runMocked(t, cfg, false, stack.Program)
	if err != nil {
		t.Fatalf("stack.Program: %v", err)
	}
	return rec.regs
}

// TestProviderContractRules has one row per provider behaviour. Each row
// takes what nixlab sends today and what it sent before the fix (bad), and
// asserts that the model of the provider turns the bad input into a
// lasting diff (or a broken VM) while nixlab's input reads back unchanged.
// A row fails if nixlab goes back to the bad input.
func TestProviderContractRules(t *testing.T) {
	regs := contractInputs(t, labConfig(t, nil))
	static := contractInputs(t, labConfig(t, map[string]string{
		"nixlab:network":    `{"mode":"static","cidr":"192.168.1.0/24","gateway":"192.168.1.1","dns":["192.168.1.1"],"domain":"lab.example"}`,
		"nixlab:nodeGroups": contractVariants[1].overrides["nixlab:nodeGroups"],
	}))
	type row struct {
		rule     string // providermodel rule name
		resource string
		regs     map[string]registration
		// bad turns nixlab's input into the input before the fix.
		bad func(in resource.PropertyMap)
		// check asserts on the read-back and diff of an input: ok says
		// whether it is nixlab's input (true) or the bad one.
		check func(t *testing.T, in, state resource.PropertyMap, d providermodel.DiffResult, ok bool)
	}
	rows := []row{
		{
			rule: "cdrom-read-from-the-drive", resource: "template-vm", regs: regs,
			bad: func(in resource.PropertyMap) { delete(in["cdrom"].ObjectValue(), "enabled") },
			check: func(t *testing.T, _, state resource.PropertyMap, _ providermodel.DiffResult, ok bool) {
				// cdrom is ignored, so no diff shows it: the VM has no CD and
				// boots nothing (finalize waits the whole install timeout).
				if _, attached := state["cdrom"]; attached != ok {
					t.Errorf("CD attached = %v, want %v", attached, ok)
				}
			},
		},
		{
			rule: "dns-read-only-when-set", resource: "workers-1", regs: regs,
			bad: func(in resource.PropertyMap) {
				in["initialization"].ObjectValue()["dns"] = resource.NewObjectProperty(resource.PropertyMap{})
			},
			check: wantDiff("initialization.dns", true),
		},
		{
			rule: "dns-read-only-when-set", resource: "workers-1", regs: static,
			bad: func(in resource.PropertyMap) {
				delete(in["initialization"].ObjectValue(), "dns")
			},
			check: func(t *testing.T, in, state resource.PropertyMap, d providermodel.DiffResult, ok bool) {
				// With servers and a domain the block is read back as sent.
				if ok && !d.Empty() {
					t.Errorf("static dns does not round-trip: %v", d.Changed)
				}
				if !ok && !d.Empty() {
					t.Errorf("no dns must read back as no dns: %v", d.Changed)
				}
			},
		},
		{
			rule: "tags-deduplicated-and-sorted", resource: "control-plane-1", regs: regs,
			bad: func(in resource.PropertyMap) {
				in["tags"] = resource.NewPropertyValue([]string{"nixlab", "nixlab", "control-plane"})
			},
			check: wantDiff("tags", false),
		},
		{
			rule: "disk-speed-read-empty", resource: "workers-2", regs: regs,
			bad:   func(resource.PropertyMap) {}, // the bad part is the missing ignore
			check: wantDiff("disks[0].speed", false),
		},
		{
			rule: "upgrade-not-read", resource: "workers-1", regs: regs,
			bad: func(in resource.PropertyMap) {
				in["initialization"].ObjectValue()["upgrade"] = resource.NewBoolProperty(false)
			},
			check: func(t *testing.T, in, state resource.PropertyMap, _ providermodel.DiffResult, ok bool) {
				_, sent := in["initialization"].ObjectValue()["upgrade"]
				_, read := state["initialization"].ObjectValue()["upgrade"]
				if read {
					t.Error("the model reads `upgrade` back; the provider does not")
				}
				if sent == ok {
					t.Errorf("upgrade sent = %v: the deprecated field warns on every run", sent)
				}
			},
		},
		{
			rule: "user-account-read-with-sensitive-password", resource: "workers-1", regs: regs,
			bad: func(in resource.PropertyMap) {
				ua := in["initialization"].ObjectValue()["userAccount"].ObjectValue()
				ua["keys"] = resource.NewPropertyValue([]string{mockPublicKey + "\n"})
			},
			check: func(t *testing.T, in, state resource.PropertyMap, _ providermodel.DiffResult, ok bool) {
				// Without the ignore a key that does not round-trip replaces
				// the VM (keys are ForceNew).
				d, err := providermodel.Diff(providermodel.TypeVM, providermodel.Check(providermodel.TypeVM, in), state, in, []string{"clone", components.DiskSpeedIgnore})
				if err != nil {
					t.Fatal(err)
				}
				if d.Replace == ok {
					t.Errorf("replace = %v (changed %v), want %v", d.Replace, d.Changed, !ok)
				}
				pw := state["initialization"].ObjectValue()["userAccount"].ObjectValue()["password"]
				if !pw.IsSecret() {
					t.Error("the password the provider reads back is Sensitive: it must be secret in state")
				}
			},
		},
		{
			rule: "started-and-template-from-status", resource: "template-vm", regs: regs,
			bad:   func(resource.PropertyMap) {}, // the bad part is ignoring `started` only
			check: templateAfterFinalize,
		},
	}
	for _, r := range rows {
		t.Run(r.rule+"/"+r.resource, func(t *testing.T) {
			if !slices.ContainsFunc(providermodel.Rules(providermodel.TypeVM), func(x providermodel.Rule) bool { return x.Name == r.rule }) {
				t.Fatalf("no provider model rule %q", r.rule)
			}
			reg, ok := r.regs[r.resource]
			if !ok {
				t.Fatalf("%s not registered", r.resource)
			}
			ignore := reg.RegisterRPC.GetIgnoreChanges()
			good := providermodel.DeepCopy(reg.Inputs)
			bad := providermodel.DeepCopy(reg.Inputs)
			r.bad(bad)
			badIgnore := ignore
			if r.rule == "disk-speed-read-empty" {
				badIgnore = slices.DeleteFunc(slices.Clone(ignore), func(p string) bool { return p == components.DiskSpeedIgnore })
			}
			for _, c := range []struct {
				in     resource.PropertyMap
				ignore []string
				ok     bool
			}{{good, ignore, true}, {bad, badIgnore, false}} {
				state := providermodel.ReadBack(providermodel.TypeVM, c.in, providermodel.Env{})
				d, err := providermodel.Diff(providermodel.TypeVM, providermodel.Check(providermodel.TypeVM, c.in), state, c.in, c.ignore)
				if err != nil {
					t.Fatal(err)
				}
				r.check(t, c.in, state, d, c.ok)
			}
		})
	}
}

// wantDiff asserts that nixlab's input reads back with no diff and the bad
// input with a lasting diff at path (that reboots the VM, if reboots).
func wantDiff(path string, reboots bool) func(*testing.T, resource.PropertyMap, resource.PropertyMap, providermodel.DiffResult, bool) {
	return func(t *testing.T, _, _ resource.PropertyMap, d providermodel.DiffResult, ok bool) {
		t.Helper()
		if ok {
			if !d.Empty() {
				t.Errorf("nixlab's input does not round-trip: %v", d.Changed)
			}
			return
		}
		if !slices.Contains(d.Changed, path) {
			t.Errorf("bad input: diff %v lacks %s; the model misses the provider behaviour", d.Changed, path)
		}
		if got := len(providermodel.RebootingChanges(d)) > 0; got != reboots {
			t.Errorf("bad input reboots the VM = %v, want %v (changes %v)", got, reboots, d.Changed)
		}
	}
}

// templateAfterFinalize: after finalize the template reads back stopped,
// as a template, without its CD. With nixlab's ignoreChanges nothing
// differs; ignoring `started`, `template`, `cdrom` and `bootOrders` only
// leaves the agent address fields that network.CustomizeDiff marks computed.
func templateAfterFinalize(t *testing.T, in, _ resource.PropertyMap, _ providermodel.DiffResult, ok bool) {
	t.Helper()
	after := providermodel.ReadBack(providermodel.TypeVM, in, providermodel.Env{VM: providermodel.VMStatus{Stopped: true, Template: true, CdromDetached: true}})
	ignore := components.TemplateVMIgnoreChanges()
	if !ok {
		ignore = []string{"started", "template", "cdrom", "bootOrders", components.DiskSpeedIgnore}
	}
	d, err := providermodel.Diff(providermodel.TypeVM, providermodel.Check(providermodel.TypeVM, in), after, in, ignore)
	if err != nil {
		t.Fatal(err)
	}
	if ok != d.Empty() {
		t.Errorf("template after finalize, ignoring %v: diff %v", ignore, d.Changed)
	}
	if !ok && !slices.ContainsFunc(d.Changed, func(p string) bool { return strings.HasPrefix(p, "ipv4Addresses") }) {
		t.Errorf("ignoring started only: diff %v, want the computed agent addresses", d.Changed)
	}
}
