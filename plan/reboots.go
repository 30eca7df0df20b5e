package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/components"
)

// replaceFields are the VirtualMachine input paths whose change replaces
// the VM (destroys and recreates it) rather than updating it in place.
// Source: bpg/terraform-provider-proxmox v0.69.1,
// proxmoxtf/resource/vm/vm.go, VM(): the ForceNew attributes (every
// `clone` field, `efi_disk`, `tpm_state`, `initialization.user_account`,
// the cloud-init data file IDs, `template`, `vm_id`; `disk.file_id` in
// proxmoxtf/resource/vm/disk/schema.go) and `node_name`, which
// CustomizeDiff forces new unless `migrate` is set.
var replaceFields = []string{
	"clone",
	"disks[*].fileId",
	"efiDisk",
	"initialization.metaDataFileId",
	"initialization.networkDataFileId",
	"initialization.userAccount",
	"initialization.userDataFileId",
	"initialization.vendorDataFileId",
	"nodeName",
	"template",
	"tpmState",
	"vmId",
}

// anyIndex replaces every list index in a property path with "[*]"
// ("disks[0].aio" -> "disks[*].aio").
func anyIndex(path string) string {
	if !strings.Contains(path, "[") {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '[' {
			j := i + 1
			for j < len(path) && path[j] >= '0' && path[j] <= '9' {
				j++
			}
			if j > i+1 && j < len(path) && path[j] == ']' {
				b.WriteString("[*]")
				i = j
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

// replacesVM reports whether a change of the VM input at path replaces the
// VM (see replaceFields). A field covers everything below it.
func replacesVM(path string) bool {
	p := anyIndex(path)
	for _, f := range replaceFields {
		if p == f || strings.HasPrefix(p, f+".") || strings.HasPrefix(p, f+"[") {
			return true
		}
	}
	return false
}

// ignored reports whether path is covered by one of the ignoreChanges
// paths: equal to it or below it; "[*]" in an ignore path matches any
// list index.
func ignored(path string, ignore []string) bool {
	norm := anyIndex(path)
	for _, ig := range ignore {
		for _, p := range []string{path, norm} {
			if p == ig || strings.HasPrefix(p, ig+".") || strings.HasPrefix(p, ig+"[") {
				return true
			}
		}
	}
	return false
}

// RebootSettings are the stack settings whose change reaches a node VM's
// reboot inputs (components.RebootFields), so `nixlab up` reboots the
// running nodes: <group> stands for the node group. TestRebootSettings
// changes each one and checks that the nodes reboot.
var RebootSettings = []string{
	"nixlab:nodeGroups.<group>.cores",
	"nixlab:nodeGroups.<group>.memoryMb",
	"nixlab:nodeGroups.<group>.hostOffset (static network)",
	"nixlab:network",
	"nixlab:proxmox.bridge",
	"nixlab:proxmox.vmStorage",
}

// restartInputs flattens a VM's inputs into the leaves whose change
// restarts a running node: by a reboot (components.RebootsVM) or by
// replacing the VM (replaceFields), leaving out the resource's
// ignoreChanges paths (the engine never sends their changes to the
// provider: a clone ignores its clone source and cloud-init user). Paths
// use Pulumi's property path form ("cpu.cores",
// "initialization.ipConfigs[0].ipv4.address"); values are summarized like
// every input (Secret, Unknown), so secrets stay hidden.
func restartInputs(in resource.PropertyMap, ignore []string) Inputs {
	var out Inputs
	var walk func(path string, v resource.PropertyValue)
	walk = func(path string, v resource.PropertyValue) {
		switch {
		case v.IsNull():
		case v.IsObject() && !v.IsSecret() && !v.IsComputed() && !v.IsOutput():
			obj := v.ObjectValue()
			for _, k := range obj.StableKeys() {
				walk(path+"."+string(k), obj[k])
			}
		case v.IsArray():
			for i, e := range v.ArrayValue() {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		default:
			if (components.RebootsVM(path) || replacesVM(path)) && !ignored(path, ignore) {
				out = append(out, Input{Key: path, Value: describe(v)})
			}
		}
	}
	for _, k := range in.StableKeys() {
		walk(string(k), in[k])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Change is one changed VM input of a node.
type Change struct {
	// Path is the VM input's property path, e.g. "cpu.cores".
	Path string `json:"path"`
	// Old and New are the summarized values; "" when absent.
	Old string `json:"old"`
	New string `json:"new"`
}

// String renders the change as `path old -> new`.
func (c Change) String() string {
	show := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	return fmt.Sprintf("%s %s -> %s", c.Path, show(c.Old), show(c.New))
}

// Restart is a node that the change from an earlier plan restarts.
type Restart struct {
	// Node is the node's VM name.
	Node string `json:"node"`
	// Replace is true when the VM is replaced (destroyed and created
	// again, its disk with it); false when it is rebooted in place.
	Replace bool `json:"replace"`
	// Changes are the changed inputs that cause it.
	Changes []Change `json:"changes"`
}

// Comparison is the result of comparing a plan with an earlier one.
type Comparison struct {
	// Against names the earlier plan (its file name).
	Against string `json:"against"`
	// Restarts are the nodes of both plans that the change reboots or
	// replaces, in plan order.
	Restarts []Restart `json:"restarts"`
	// Added and Removed are the nodes only in the new or the old plan.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	// Rolls are the nodes of both plans that the change rolls to a new
	// node system (or checks against a new Kubernetes version guard).
	Rolls []Roll `json:"rolls"`
	// NoRollData is true when the earlier plan carries no roll policy (a
	// plan of an earlier nixlab): Rolls cannot be compared.
	NoRollData bool `json:"noRollData,omitempty"`
}

// CompareWith compares p with an earlier plan of the same stack (old,
// e.g. read from `nixlab plan --format json`), sets p.Comparison and
// returns it. Nodes are matched by their VM resource's URN (stack and
// project aside); a node whose
// restart inputs differ is rebooted, or replaced when a changed input
// forces replacement. Values unknown in both plans (DHCP addresses, the
// generated SSH key) compare equal; a change of a secret input cannot be
// seen. against names old in the output.
func (p *Plan) CompareWith(old *Plan, against string) *Comparison {
	c := &Comparison{Against: against, Restarts: []Restart{}, Added: []string{}, Removed: []string{}}
	before := make(map[string]Node, len(old.Nodes))
	for _, n := range old.Nodes {
		before[nodeKey(n)] = n
	}
	now := make(map[string]bool, len(p.Nodes))
	for _, n := range p.Nodes {
		now[nodeKey(n)] = true
		o, ok := before[nodeKey(n)]
		if !ok {
			c.Added = append(c.Added, n.Name)
			continue
		}
		if r, changed := compareNode(o, n); changed {
			c.Restarts = append(c.Restarts, r)
		}
	}
	for _, n := range old.Nodes {
		if !now[nodeKey(n)] {
			c.Removed = append(c.Removed, n.Name)
		}
	}
	c.Rolls = compareRolls(old, p)
	c.NoRollData = old.Updates == nil
	p.Comparison = c
	return c
}

// nodeKey identifies a node's VM across plans: its URN without the stack
// and project (the parent types and the resource name), so a plan can be
// compared with one of a copy of the stack.
func nodeKey(n Node) string {
	u := resource.URN(n.URN)
	if !u.IsValid() {
		return n.URN
	}
	return string(u.QualifiedType()) + "::" + u.Name()
}

// compareNode compares one node's restart inputs.
func compareNode(old, cur Node) (Restart, bool) {
	r := Restart{Node: cur.Name, Changes: []Change{}}
	olds := map[string]string{}
	for _, in := range old.RestartInputs {
		olds[in.Key] = in.Value
	}
	seen := map[string]bool{}
	for _, in := range cur.RestartInputs {
		seen[in.Key] = true
		if o, ok := olds[in.Key]; !ok || o != in.Value {
			r.Changes = append(r.Changes, Change{Path: in.Key, Old: olds[in.Key], New: in.Value})
		}
	}
	for _, in := range old.RestartInputs {
		if !seen[in.Key] {
			r.Changes = append(r.Changes, Change{Path: in.Key, Old: in.Value})
		}
	}
	sort.Slice(r.Changes, func(i, j int) bool { return r.Changes[i].Path < r.Changes[j].Path })
	for _, ch := range r.Changes {
		if replacesVM(ch.Path) {
			r.Replace = true
		}
	}
	return r, len(r.Changes) > 0
}
