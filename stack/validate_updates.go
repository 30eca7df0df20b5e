package stack

import (
	"fmt"
	"strings"
)

// Limits of nixlab:updates, nixlab's own:
//   - MaxUnavailableBound: more workers at once than a stack can have
//     nodes (MaxNodes) would mean nothing.
//   - MaxRollTimeoutMinutes: a day; a drain or a health gate that takes
//     longer is stuck, and the roll should stop with an error instead of
//     holding `pulumi up` (and its state lock) open.
const (
	MaxUnavailableBound   = MaxNodes
	MinRollTimeoutMinutes = 1
	MaxRollTimeoutMinutes = 24 * 60
)

// maxListedNodes is how many valid node names an error about a held node
// lists before "...".
const maxListedNodes = 10

// validateUpdates checks nixlab:updates: the bounds of maxUnavailable and
// the timeouts, and that every held node is a node of the config, named
// once.
func (c *Config) validateUpdates(v *validator) {
	u := c.Updates
	if u.MaxUnavailable < 1 || u.MaxUnavailable > MaxUnavailableBound {
		v.add("updates.maxUnavailable", "%d is out of range; use 1 to %d (workers rolled at once; control planes always roll one at a time), or remove the key to use the default (%d)", u.MaxUnavailable, MaxUnavailableBound, DefaultMaxUnavailable)
	}
	for _, t := range []struct {
		key  string
		val  int
		def  int
		what string
	}{
		{"updates.drainTimeoutMinutes", u.DrainTimeoutMinutes, DefaultDrainTimeoutMinutes, "the cordon and drain of one node"},
		{"updates.healthTimeoutMinutes", u.HealthTimeoutMinutes, DefaultHealthTimeoutMinutes, "the health gate of one node after its switch or reboot"},
	} {
		if t.val < MinRollTimeoutMinutes || t.val > MaxRollTimeoutMinutes {
			v.add(t.key, "%d is out of range; use %d to %d minutes (it bounds %s), or remove the key to use the default (%d)", t.val, MinRollTimeoutMinutes, MaxRollTimeoutMinutes, t.what, t.def)
		}
	}
	c.validateHold(v)
}

// validateHold checks nixlab:updates.hold: each entry names a node of the
// config (`<clusterName>-<group>-<i>`), and no node is listed twice.
func (c *Config) validateHold(v *validator) {
	names := c.NodeNames()
	valid := make(map[string]bool, len(names))
	for _, n := range names {
		valid[n] = true
	}
	first := map[string]int{}
	for i, h := range c.Updates.Hold {
		key := fmt.Sprintf("updates.hold[%d]", i)
		switch {
		case LooksSecret(h):
			v.add(key, "holds what looks like a secret (not printed); %s", holdForm(names))
		case !valid[h]:
			msg := fmt.Sprintf("%q is not a node of this stack", h)
			// A typo in the group or cluster part gets a guess; a node
			// number past the group's count (a node scaled away) does not:
			// the nearest name would be another node.
			if guess := closest(h, names); guess != "" && withoutIndex(guess) != withoutIndex(h) {
				msg += fmt.Sprintf("; did you mean %s?", guess)
			}
			v.add(key, "%s; %s, or remove it from the list", msg, holdForm(names))
		default:
			if j, dup := first[h]; dup {
				v.add(key, "%q is already listed as updates.hold[%d]; list each node once", h, j)
				continue
			}
			first[h] = i
		}
	}
}

// holdForm says what a held node is and lists the valid names (at most
// maxListedNodes, then "...").
func holdForm(names []string) string {
	const form = "give a node's VM name, <clusterName>-<group>-<i>, as the nodes output lists it"
	switch {
	case len(names) == 0:
		return form + " (the node groups have no nodes)"
	case len(names) > maxListedNodes:
		return fmt.Sprintf("%s: %s, ... (%d nodes)", form, strings.Join(names[:maxListedNodes], ", "), len(names))
	default:
		return form + ": " + strings.Join(names, ", ")
	}
}

// withoutIndex is a node name without its trailing node number.
func withoutIndex(name string) string {
	return strings.TrimRight(name, "0123456789")
}
