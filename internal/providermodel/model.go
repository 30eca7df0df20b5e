package providermodel

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Rule is one provider behaviour that makes a state differ from the inputs
// that produced it (Read), or fills inputs before a diff (Check).
type Rule struct {
	// Name says what the rule does, e.g. "cdrom-only-when-enabled".
	Name string
	// Source is the upstream file and function (at the pinned tag) the rule
	// follows.
	Source string
	// Check, when set, fills inputs the way the provider's Check does
	// (defaults); it edits in place.
	Check func(in resource.PropertyMap)
	// Read, when set, turns a state copied from the checked inputs into what
	// the provider reads back; it edits state in place.
	Read func(state resource.PropertyMap, env Env)
}

// VMStatus is what Proxmox reports about a VM beyond the configuration the
// provider sent: the zero value is a VM as created, running.
type VMStatus struct {
	// Stopped: the VM is powered off (the installer after the install).
	Stopped bool
	// Template: `qm template` converted the VM outside the provider.
	Template bool
	// CdromDetached: the CD drive was removed (`qm set --delete ide3`).
	CdromDetached bool
	// IPv4 is the address the guest agent reports on eth0 while running;
	// empty when unknown.
	IPv4 string
	// MAC is the NIC's MAC address Proxmox generated.
	MAC string
}

// Env is what the world holds beyond a resource's inputs.
type Env struct {
	// VM is the Proxmox-side status of a VirtualMachine.
	VM VMStatus
	// Stdout is what a command printed; Preview leaves command outputs
	// unknown (absent), as a preview of a create does.
	Stdout  string
	Preview bool
	// PublicKeyOpenssh and PrivateKeyOpenssh are the TLS provider's
	// generated key pair (the public key as it prints it, newline-ended).
	PublicKeyOpenssh  string
	PrivateKeyOpenssh string
	// Seed makes what a provider generates (random values, object UIDs)
	// deterministic: the model derives them from it.
	Seed string
}

// Rules returns the rules of a resource type in the order they apply; nil
// for a type the model does not know (its state is its inputs).
func Rules(typ string) []Rule {
	switch typ {
	case TypeVM:
		return vmRules
	case TypeRemoteCommand:
		return remoteCommandRules
	case TypeLocalCommand:
		return localCommandRules
	case TypePrivateKey:
		return privateKeyRules
	case TypeRandomString:
		return randomStringRules
	case TypeRandomPassword:
		return randomPasswordRules
	case TypeRandomBytes:
		return randomBytesRules
	case TypeKubernetesProvider:
		return kubernetesProviderRules
	case TypeHelmRelease:
		return helmReleaseRules
	case TypeStorageClass:
		return storageClassRules
	case TypeNamespace:
		return namespaceRules
	}
	return nil
}

// Check returns a copy of inputs with what the provider's Check adds
// (defaults). Check is idempotent.
func Check(typ string, inputs resource.PropertyMap) resource.PropertyMap {
	in := inputs.Copy()
	in = deepCopy(resource.NewObjectProperty(in)).ObjectValue()
	for _, r := range Rules(typ) {
		if r.Check != nil {
			r.Check(in)
		}
	}
	return in
}

// ReadBack returns the state the provider holds for a resource created (or
// updated) from inputs, as registered by the program, after it read the
// resource back in env.
func ReadBack(typ string, inputs resource.PropertyMap, env Env) resource.PropertyMap {
	state := Check(typ, inputs)
	for _, r := range Rules(typ) {
		if r.Read != nil {
			r.Read(state, env)
		}
	}
	return state
}

// Refresh returns what a `pulumi refresh` reads for a resource whose stored
// inputs are oldInputs, now that the world is env.
func Refresh(typ string, oldInputs resource.PropertyMap, env Env) resource.PropertyMap {
	return ReadBack(typ, oldInputs, env)
}

// DiffResult is what a provider's Diff reports.
type DiffResult struct {
	// Changed are the property paths that differ, sorted; empty means no
	// update.
	Changed []string
	// Replace says a changed property forces replacement.
	Replace bool
}

// Empty reports whether nothing changes.
func (d DiffResult) Empty() bool { return len(d.Changed) == 0 }

// Diff compares the inputs a program registers now (news) with a resource's
// stored inputs (oldInputs, as checked) and state, as the engine and the
// provider do: the engine first resets every ignoreChanges path of news to
// its old input (ApplyIgnoreChanges), the provider's Check fills defaults,
// then the provider compares the result with the state.
func Diff(typ string, oldInputs, oldState, news resource.PropertyMap, ignoreChanges []string) (DiffResult, error) {
	ignored, err := ApplyIgnoreChanges(oldInputs, news, ignoreChanges)
	if err != nil {
		return DiffResult{}, err
	}
	cfg := Check(typ, ignored)
	var d DiffResult
	switch typ {
	case TypeVM:
		d = vmDiff(oldState, cfg, ignoreChanges)
	case TypeRemoteCommand, TypeLocalCommand:
		d = commandDiff(oldState, cfg)
	case TypePrivateKey:
		d = privateKeyDiff(oldState, cfg)
	case TypeRandomString, TypeRandomPassword, TypeRandomBytes:
		d = randomDiff(oldState, cfg)
	case TypeKubernetesProvider:
		d = kubernetesProviderDiff(oldInputs, cfg)
	case TypeHelmRelease, TypeStorageClass, TypeNamespace:
		d = kubernetesObjectDiff(typ, oldInputs, cfg)
	default:
		d = plainDiff(oldState, cfg)
	}
	slices.Sort(d.Changed)
	d.Changed = slices.Compact(d.Changed)
	return d, nil
}

// ApplyIgnoreChanges returns a copy of news with each ignoreChanges path
// reset to its value in oldInputs, as the engine does before Check and Diff
// (PropertyPath.Reset, pulumi/pulumi sdk/go/common/resource/
// properties_path.go, used by the step generator's processIgnoreChanges). A
// path may hold `[*]` wildcards. A path that cannot be reset is an error, as
// in the engine.
func ApplyIgnoreChanges(oldInputs, news resource.PropertyMap, paths []string) (resource.PropertyMap, error) {
	out := deepCopy(resource.NewObjectProperty(news)).ObjectValue()
	for _, p := range paths {
		path, err := resource.ParsePropertyPath(p)
		if err != nil {
			return nil, fmt.Errorf("ignoreChanges path %q: %w", p, err)
		}
		if !path.Reset(oldInputs, out) {
			return nil, fmt.Errorf("cannot ignore changes to %q: one or more elements of the path are missing", p)
		}
	}
	return out, nil
}

// plainDiff is the diff of a type the model does not know: any difference.
func plainDiff(state, cfg resource.PropertyMap) DiffResult {
	var d DiffResult
	for _, k := range unionKeys(state, cfg) {
		if !unwrap(state[k]).DeepEquals(unwrap(cfg[k])) {
			d.Changed = append(d.Changed, string(k))
		}
	}
	return d
}
