package plan

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/nixlab/nixlab/stack"
)

// Updates summarizes how a new node system rolls through the nodes
// (nixlab:updates and components.RollingUpdate).
type Updates struct {
	// NodeSystemHash is the node-system hash: a new one rolls every node
	// not held. Empty with a prebuilt ISO (nothing can roll).
	NodeSystemHash string `json:"nodeSystemHash"`
	// KubernetesVersion is the version guard of every roll ("" = any).
	KubernetesVersion string `json:"kubernetesVersion"`
	// Order is the nodes that roll, in roll order: control planes one at
	// a time, then the workers MaxUnavailable at a time.
	Order []string `json:"order"`
	// Held are the nodes held out of rolls.
	Held []string `json:"held"`
	// MaxUnavailable, DrainTimeoutMinutes, HealthTimeoutMinutes and
	// Rollback are nixlab:updates.
	MaxUnavailable       int  `json:"maxUnavailable"`
	DrainTimeoutMinutes  int  `json:"drainTimeoutMinutes"`
	HealthTimeoutMinutes int  `json:"healthTimeoutMinutes"`
	Rollback             bool `json:"rollback"`
}

// Roll is a node that a change from an earlier plan rolls, and why.
type Roll struct {
	Node    string   `json:"node"`
	Reasons []string `json:"reasons"`
}

// summarizeUpdates is the roll policy of cfg for the plan's nodes (control
// planes first, as Plan.Nodes lists them).
func summarizeUpdates(cfg *stack.Config, nodeSystemHash string, nodes []Node) *Updates {
	u := cfg.Updates
	out := &Updates{
		NodeSystemHash:       nodeSystemHash,
		KubernetesVersion:    cfg.Kubernetes.Version,
		Order:                []string{},
		Held:                 []string{},
		MaxUnavailable:       u.WorkersAtOnce(),
		DrainTimeoutMinutes:  int(u.DrainTimeout().Minutes()),
		HealthTimeoutMinutes: int(u.HealthTimeout().Minutes()),
		Rollback:             u.RollbackEnabled(),
	}
	for _, n := range nodes {
		if u.Held(n.Name) {
			out.Held = append(out.Held, n.Name)
		} else if nodeSystemHash != "" {
			out.Order = append(out.Order, n.Name)
		}
	}
	return out
}

// compareRolls lists the nodes of p that existed in old and roll: every
// node not held when the node-system hash or the Kubernetes version guard
// changed, and a node that was held and is no longer (its roll step is
// created and rolls it unless it is already on the current system).
func compareRolls(old, p *Plan) []Roll {
	out := []Roll{}
	if old.Updates == nil || p.Updates == nil || p.Updates.NodeSystemHash == "" {
		return out
	}
	o, n := old.Updates, p.Updates
	existed := map[string]bool{}
	for _, node := range old.Nodes {
		existed[node.Name] = true
	}
	var common []string
	if o.NodeSystemHash != n.NodeSystemHash {
		common = append(common, fmt.Sprintf("node system %s -> %s", short(o.NodeSystemHash), short(n.NodeSystemHash)))
	}
	if o.KubernetesVersion != n.KubernetesVersion {
		common = append(common, fmt.Sprintf("Kubernetes version guard %s -> %s: checked again, a node on the current system only checked",
			orAny(o.KubernetesVersion), orAny(n.KubernetesVersion)))
	}
	for _, name := range n.Order {
		if !existed[name] {
			continue
		}
		reasons := append([]string{}, common...)
		if slices.Contains(o.Held, name) {
			reasons = append(reasons, "no longer held")
		}
		if len(reasons) > 0 {
			out = append(out, Roll{Node: name, Reasons: reasons})
		}
	}
	return out
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

func orAny(v string) string {
	if v == "" {
		return "any"
	}
	return v
}

// writeTextRolls writes the roll policy and, after CompareWith, which nodes
// the change from the earlier plan rolls.
func (p *Plan) writeTextRolls(w *bufio.Writer) {
	u := p.Updates
	if u == nil {
		return
	}
	if c := p.Comparison; c != nil {
		fmt.Fprintf(w, "\nRolls (compared with %s)\n", c.Against)
		if c.NoRollData {
			w.WriteString("  the earlier plan has no roll data (made by an earlier nixlab): rolls cannot be compared\n")
		} else if len(c.Rolls) == 0 {
			w.WriteString("  no node rolls\n")
		} else {
			parts := make([]string, 0, len(c.Rolls))
			for _, r := range c.Rolls {
				parts = append(parts, fmt.Sprintf("%s (%s)", r.Node, strings.Join(r.Reasons, ", ")))
			}
			fmt.Fprintf(w, "  will roll: %s\n", strings.Join(parts, ", "))
		}
	} else {
		w.WriteString("\nRolls\n")
	}
	if u.NodeSystemHash == "" {
		w.WriteString("  a prebuilt ISO (nixlab:template.isoPath) has no node system: nodes never roll\n")
		return
	}
	fmt.Fprintf(w, "  node system   %s\n", u.NodeSystemHash)
	if len(u.Order) > 0 {
		fmt.Fprintf(w, "  order         %s (control planes one at a time, then workers %d at a time)\n", strings.Join(u.Order, ", "), u.MaxUnavailable)
	}
	if len(u.Held) > 0 {
		fmt.Fprintf(w, "  held          %s (never rolled; still drained and rebooted by VM changes)\n", strings.Join(u.Held, ", "))
	}
	rollback := "on"
	if !u.Rollback {
		rollback = "off"
	}
	fmt.Fprintf(w, "  bounds        drain %d min, health gate %d min, rollback %s\n", u.DrainTimeoutMinutes, u.HealthTimeoutMinutes, rollback)
	w.WriteString("  A new node system (any file in nixos/ but the installer's, nfs.*, timezone, adminUser,\n" +
		"  extraAuthorizedKeys, template.swapSizeGb, template.extraModules, nixos/flake.lock) rolls every\n" +
		"  node not held: compare plans with --against to see it.\n")
}
