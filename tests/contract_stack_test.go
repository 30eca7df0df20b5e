package tests

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// contractVariants are the stacks the provider contract is checked on: the
// reference lab (DHCP, no DNS, default cluster name) and its static and
// DHCP-with-DNS variants.
var contractVariants = []struct {
	name      string
	overrides map[string]string
}{
	{"lab", nil},
	{"static with dns and domain", map[string]string{
		"nixlab:network":    `{"mode":"static","cidr":"192.168.1.0/24","gateway":"192.168.1.1","dns":["192.168.1.1","9.9.9.9"],"domain":"lab.example"}`,
		"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":2,"vmIdStart":9200,"hostOffset":31}}`,
	}},
	{"static without dns", map[string]string{
		"nixlab:network":    `{"mode":"static","cidr":"10.0.0.0/24","gateway":"10.0.0.1"}`,
		"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":1,"vmIdStart":9200,"hostOffset":31}}`,
	}},
	{"dhcp with dns servers", map[string]string{
		"nixlab:network": `{"mode":"dhcp","dns":["1.1.1.1"]}`,
	}},
}

// differsAtCreate are the paths where a VM's read-back right after create
// may differ from its inputs; every other ignoreChanges path is about what
// happens later (finalize, a new template, a new admin user).
// components.DiskSpeedIgnore documents why; `cdrom` is the bridge-filled
// default a clone never reads back (components.CloneIgnoreChanges); the
// template VM's CD must read back attached.
func differsAtCreate(typ, name string) []string {
	if typ == providermodel.TypeVM && name == "template-vm" {
		return []string{components.DiskSpeedIgnore}
	}
	if typ == providermodel.TypeVM {
		return []string{"cdrom", components.DiskSpeedIgnore}
	}
	return nil
}

// TestProviderContractWholeStack: for every resource the program registers,
// the inputs it sends equal what the provider reads back into state, but
// for the documented ignoreChanges; with them, the provider sees no diff.
func TestProviderContractWholeStack(t *testing.T) {
	for _, v := range contractVariants {
		t.Run(v.name, func(t *testing.T) {
			rec, err := runMocked(t, labConfig(t, v.overrides), false, stack.Program)
			if err != nil {
				t.Fatalf("stack.Program: %v", err)
			}
			states := rec.stateSnapshot()
			checked := 0
			for name, reg := range rec.regs {
				if !reg.Custom || len(providermodel.Rules(reg.TypeToken)) == 0 {
					continue
				}
				checked++
				st := states[name]
				ignore := reg.RegisterRPC.GetIgnoreChanges()
				d, err := providermodel.Diff(reg.TypeToken, st.Inputs, st.State, reg.Inputs, ignore)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !d.Empty() {
					t.Errorf("%s (%s): the provider reads back something else than nixlab sends: %v", name, reg.TypeToken, d.Changed)
				}
				// Without any ignoreChanges, only the documented read-back
				// difference remains (a missing CD, an empty dns block or a
				// duplicate tag would show here).
				raw, err := providermodel.Diff(reg.TypeToken, st.Inputs, st.State, reg.Inputs, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				doc := differsAtCreate(reg.TypeToken, name)
				for _, p := range raw.Changed {
					if !slices.ContainsFunc(doc, func(ig string) bool { return p == ig || len(p) > len(ig) && p[:len(ig)+1] == ig+"." }) {
						t.Errorf("%s: %s differs from its read-back right after create", name, p)
					}
				}
			}
			// build, upload, host key, VM, finalize, ssh key, 3 clones + checks.
			if checked < 10 {
				t.Errorf("only %d resources checked against the provider model", checked)
			}
		})
	}
}

// TestMockAddsNoSecrecyOfItsOwn: the mock's states are secret only where
// the program sent a secret or the provider schema has a sensitive field.
func TestMockAddsNoSecrecyOfItsOwn(t *testing.T) {
	rec, err := runMocked(t, labConfig(t, nil), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	sensitive := map[string][]resource.PropertyKey{
		providermodel.TypePrivateKey:     {"privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"},
		providermodel.TypeRemoteCommand:  {"connection"},
		providermodel.TypeRandomPassword: {"result", "bcryptHash"},
		providermodel.TypeRandomBytes:    {"base64", "hex"},
	}
	for name, st := range rec.stateSnapshot() {
		reg := rec.regs[name]
		// The program asks for these itself (additionalSecretOutputs).
		asked := reg.RegisterRPC.GetAdditionalSecretOutputs()
		for k, v := range st.State {
			if !v.IsSecret() || reg.Inputs[k].IsSecret() || slices.Contains(sensitive[st.Type], k) || slices.Contains(asked, string(k)) {
				continue
			}
			t.Errorf("%s: state %s is secret, but neither the program nor the provider schema made it so", name, k)
		}
	}
}
