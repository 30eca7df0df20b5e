package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/components"
)

// vmType is the type token of the Proxmox VM resource.
const vmType = "proxmoxve:VM/virtualMachine:VirtualMachine"

// rollingRebootNote says in what order reboots happen. The node groups make
// each node's VM wait for the previous node's readiness check
// (components.K8sNodeGroup), so the engine updates one node at a time.
const rollingRebootNote = "Reboots happen one node at a time: each node's update waits until the previous node passed its readiness check again."

// nodeReboot is a VM that an update will reboot, and the changed input
// paths that make it reboot.
type nodeReboot struct {
	name  string
	paths []string
}

// rebootCollector reads the engine events of a preview and keeps the VM
// updates that reboot a running VM: a step with op "update" on a VM whose
// changed inputs include one of components.RebootFields (the pinned
// provider, bpg v0.69.1, restarts the VM at the end of such an update;
// proxmoxtf/resource/vm/vm.go, vmUpdate, rebootRequired). Templates are
// left out: they are never running. It is safe for concurrent use.
type rebootCollector struct {
	mu      sync.Mutex
	reboots map[string]nodeReboot // by URN
}

// observe handles one engine event.
func (c *rebootCollector) observe(ev events.EngineEvent) {
	if ev.ResourcePreEvent == nil {
		return
	}
	md := ev.ResourcePreEvent.Metadata
	if md.Type != vmType || md.Op != apitype.OpUpdate || isTemplate(md.Old) {
		return
	}
	var paths []string
	for _, p := range changedPaths(md) {
		if components.RebootsVM(p) {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return
	}
	sort.Strings(paths)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reboots == nil {
		c.reboots = map[string]nodeReboot{}
	}
	c.reboots[md.URN] = nodeReboot{name: vmName(md), paths: paths}
}

// list returns the reboots sorted by VM name.
func (c *rebootCollector) list() []nodeReboot {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]nodeReboot, 0, len(c.reboots))
	for _, r := range c.reboots {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// changedPaths are the input paths a step changes: the detailed diff's
// property paths (e.g. "cpu.cores") when the provider reported one, else
// the changed top-level keys.
func changedPaths(md apitype.StepEventMetadata) []string {
	if len(md.DetailedDiff) > 0 {
		out := make([]string, 0, len(md.DetailedDiff))
		for p := range md.DetailedDiff {
			out = append(out, p)
		}
		return out
	}
	return md.Diffs
}

// isTemplate reports whether the VM's current state is a template.
func isTemplate(old *apitype.StepEventStateMetadata) bool {
	if old == nil {
		return false
	}
	t, _ := old.Outputs["template"].(bool)
	return t
}

// vmName is the VM's name input (the node's host name), or the resource
// name when the name is not known.
func vmName(md apitype.StepEventMetadata) string {
	for _, st := range []*apitype.StepEventStateMetadata{md.New, md.Old} {
		if st == nil {
			continue
		}
		if n, ok := st.Inputs["name"].(string); ok && n != "" {
			return n
		}
	}
	return resource.URN(md.URN).Name()
}

// writeRebootSummary writes which nodes the previewed update reboots, e.g.
// "will reboot: nixlab-workers-1 (cpu.cores), nixlab-workers-2 (memory.dedicated)",
// or "no node reboots".
func writeRebootSummary(w io.Writer, reboots []nodeReboot) {
	if len(reboots) == 0 {
		fmt.Fprintln(w, "no node reboots")
		return
	}
	parts := make([]string, 0, len(reboots))
	for _, r := range reboots {
		parts = append(parts, fmt.Sprintf("%s (%s)", r.name, strings.Join(r.paths, ", ")))
	}
	fmt.Fprintf(w, "will reboot: %s\n%s\n", strings.Join(parts, ", "), rollingRebootNote)
}
