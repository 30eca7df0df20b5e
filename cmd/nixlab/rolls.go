package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Resource types and name suffixes of the Day-2 steps: `<node>-roll`
// (components.RollingUpdate, a command:local:Command running node-roll.sh,
// replaced when the node-system hash or the Kubernetes version guard in its
// triggers changes) and `<node>-drain` (components.VMUpdateDrain, a
// command:remote:Command on the Proxmox host, replaced when the VM's reboot
// fields change).
const (
	localCommandType = "command:local:Command"
	rollSuffix       = "-roll"
	vmDrainSuffix    = "-drain"
)

// rollNote says how a roll goes.
const rollNote = "Nodes roll one at a time, control planes first (workers nixlab:updates.maxUnavailable at a time): " +
	"drain, copy the new system, switch to it (or reboot into it), health gate, uncordon; " +
	"a node already on the new system is skipped, and a failed gate rolls the node back and stops the roll."

// nodeRoll is a node whose roll step runs, and why.
type nodeRoll struct {
	node    string
	reasons []string
}

// rollCollector reads the engine events of a preview and keeps the roll
// steps that run (a replace of `<node>-roll`; a create is a new node, already
// on the new system) and the nodes drained before a VM update (a replace of
// `<node>-drain`). Names keep the engine's order (the roll order: each step
// waits for the one before it). It is safe for concurrent use.
type rollCollector struct {
	mu     sync.Mutex
	rolls  []nodeRoll
	drains []string
	seen   map[string]bool
	// created are the roll and drain steps created (not replaced), by
	// their node's resource name (<group>-<i>), and newVMs the VMs created:
	// a step created for a node whose VM exists (a node no longer held, a
	// stack made by an earlier nixlab) runs on a running node.
	createdRolls  []nodeRoll
	createdDrains []string
	newVMs        map[string]bool
}

// observe handles one engine event.
func (c *rollCollector) observe(ev events.EngineEvent) {
	if ev.ResourcePreEvent == nil {
		return
	}
	md := ev.ResourcePreEvent.Metadata
	name := resource.URN(md.URN).Name()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
		c.newVMs = map[string]bool{}
	}
	if md.Op == apitype.OpCreate {
		switch {
		case md.Type == vmType:
			c.newVMs[name] = true
		case md.Type == localCommandType && strings.HasSuffix(name, rollSuffix):
			node := strings.TrimSuffix(name, rollSuffix)
			c.createdRolls = append(c.createdRolls, nodeRoll{node: envNode(md, node), reasons: []string{node}})
		case md.Type == remoteCommandType && strings.HasSuffix(name, vmDrainSuffix):
			c.createdDrains = append(c.createdDrains, strings.TrimSuffix(name, vmDrainSuffix))
		}
		return
	}
	if md.Op != apitype.OpReplace && md.Op != apitype.OpCreateReplacement {
		return
	}
	if c.seen[md.URN] {
		return
	}
	switch {
	case md.Type == localCommandType && strings.HasSuffix(name, rollSuffix):
		c.seen[md.URN] = true
		c.rolls = append(c.rolls, nodeRoll{node: envNode(md, strings.TrimSuffix(name, rollSuffix)), reasons: rollReasons(md)})
	case md.Type == remoteCommandType && strings.HasSuffix(name, vmDrainSuffix):
		c.seen[md.URN] = true
		c.drains = append(c.drains, strings.TrimSuffix(name, vmDrainSuffix))
	}
}

// envNode is the node name a roll step's environment carries
// (NIXLAB_NODE), or fallback.
func envNode(md apitype.StepEventMetadata, fallback string) string {
	for _, st := range []*apitype.StepEventStateMetadata{md.New, md.Old} {
		if st == nil {
			continue
		}
		if env, ok := st.Inputs["environment"].(map[string]any); ok {
			if n, ok := env["NIXLAB_NODE"].(string); ok && n != "" {
				return n
			}
		}
	}
	return fallback
}

// rollReasons compares a roll step's old and new triggers, [node-system
// hash, Kubernetes version guard] (components.rollTriggers).
func rollReasons(md apitype.StepEventMetadata) []string {
	trig := func(st *apitype.StepEventStateMetadata) []any {
		if st == nil {
			return nil
		}
		t, _ := st.Inputs["triggers"].([]any)
		return t
	}
	old, cur := trig(md.Old), trig(md.New)
	at := func(t []any, i int) string {
		if i < len(t) {
			if s, ok := t[i].(string); ok {
				return s
			}
		}
		return "?"
	}
	var out []string
	if at(old, 0) != at(cur, 0) {
		out = append(out, "new node system "+short(at(cur, 0)))
	}
	if at(old, 1) != at(cur, 1) {
		out = append(out, fmt.Sprintf("Kubernetes version guard %s -> %s: checked again, a node on the current system only checked", at(old, 1), at(cur, 1)))
	}
	if len(out) == 0 {
		out = append(out, "roll step replaced")
	}
	return out
}

// short is the first 12 characters of a hash.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// summary returns the nodes that roll and the nodes drained before a VM
// update, in the engine's order: replaced steps, then steps created for a
// node whose VM is not created in the same update (they run on a running
// node: a roll if it is not on the current system, a drain once).
func (c *rollCollector) summary() ([]nodeRoll, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rolls := append([]nodeRoll(nil), c.rolls...)
	for _, r := range c.createdRolls {
		if !c.newVMs[r.reasons[0]] {
			rolls = append(rolls, nodeRoll{node: r.node, reasons: []string{"new roll step: rolls unless already on the current node system"}})
		}
	}
	drains := append([]string(nil), c.drains...)
	for _, d := range c.createdDrains {
		if !c.newVMs[d] {
			drains = append(drains, d+" (new drain step: drains once)")
		}
	}
	return rolls, drains
}

// writeRollSummary writes which nodes the previewed update rolls and why,
// e.g. "will roll: nixlab-control-plane-1 (new node system 0123456789ab)",
// followed by rollNote; and which nodes are drained before their VM update.
// Nothing is written when nothing rolls or drains.
func writeRollSummary(w io.Writer, rolls []nodeRoll, drains []string) {
	if len(rolls) > 0 {
		parts := make([]string, 0, len(rolls))
		for _, r := range rolls {
			parts = append(parts, fmt.Sprintf("%s (%s)", r.node, strings.Join(r.reasons, ", ")))
		}
		fmt.Fprintf(w, "will roll: %s\n%s\n", strings.Join(parts, ", "), rollNote)
	}
	if len(drains) > 0 {
		fmt.Fprintf(w, "will drain before the VM update and uncordon after: %s\n", strings.Join(drains, ", "))
	}
}
