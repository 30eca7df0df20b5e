package stack

import (
	"fmt"
	"time"
)

// UpdatesConfig is `nixlab:updates`: how `up` rolls a change through the
// running nodes (a new node system closure, a new Kubernetes minor, a VM
// change that reboots the VM). Each node is cordoned and drained, switched
// (or updated), health-gated and uncordoned. Control planes always roll one
// at a time, before the workers; MaxUnavailable workers roll at once.
type UpdatesConfig struct {
	// MaxUnavailable is the number of workers rolled at the same time
	// (1-100; default 1). Control planes roll one at a time whatever it is.
	MaxUnavailable int `json:"maxUnavailable"`
	// DrainTimeoutMinutes bounds the cordon and drain of one node (1-1440
	// minutes; default 10): `kubectl drain --timeout`, which honours
	// PodDisruptionBudgets by evicting, fails after it.
	DrainTimeoutMinutes int `json:"drainTimeoutMinutes"`
	// HealthTimeoutMinutes bounds the health gate of one node after its
	// switch or reboot (1-1440 minutes; default 10): readiness checks,
	// kubelet healthy and the node Ready, on a control plane the API server
	// and its etcd member healthy.
	HealthTimeoutMinutes int `json:"healthTimeoutMinutes"`
	// Rollback switches a node back to its previous system generation
	// when its health gate fails (nil means the default, true); the roll
	// stops with an error either way.
	Rollback *bool `json:"rollback,omitempty"`
	// Hold lists node names (`<clusterName>-<group>-<i>`, the VM names of
	// the `nodes` output) held out of rolls: they get no roll step and stay
	// on their current system until removed from the list.
	Hold []string `json:"hold,omitempty"`
}

// Defaults of nixlab:updates (issue 9: one worker at a time, ten minutes
// for a drain and for a health gate, rollback on).
const (
	DefaultMaxUnavailable       = 1
	DefaultDrainTimeoutMinutes  = 10
	DefaultHealthTimeoutMinutes = 10
	DefaultRollback             = true
)

// applyUpdatesDefaults fills the unset nixlab:updates settings. Hold has
// no default: no node is held.
func (c *Config) applyUpdatesDefaults() {
	u := &c.Updates
	setInt(&u.MaxUnavailable, DefaultMaxUnavailable)
	setInt(&u.DrainTimeoutMinutes, DefaultDrainTimeoutMinutes)
	setInt(&u.HealthTimeoutMinutes, DefaultHealthTimeoutMinutes)
	if u.Rollback == nil {
		on := DefaultRollback
		u.Rollback = &on
	}
}

// Held reports whether node (a VM name, `<clusterName>-<group>-<i>`) is
// held out of rolls by nixlab:updates.hold.
func (u UpdatesConfig) Held(node string) bool {
	for _, h := range u.Hold {
		if h == node {
			return true
		}
	}
	return false
}

// RollbackEnabled reports whether a node whose health gate fails is
// switched back to its previous generation (Rollback unset means true).
func (u UpdatesConfig) RollbackEnabled() bool { return u.Rollback == nil || *u.Rollback }

// DrainTimeout is drainTimeoutMinutes as a duration; an unset (0) value is
// the default, so a Config built in Go without ApplyDefaults still gets a
// bounded drain.
func (u UpdatesConfig) DrainTimeout() time.Duration {
	return minutesOr(u.DrainTimeoutMinutes, DefaultDrainTimeoutMinutes)
}

// HealthTimeout is healthTimeoutMinutes as a duration; an unset (0) value
// is the default.
func (u UpdatesConfig) HealthTimeout() time.Duration {
	return minutesOr(u.HealthTimeoutMinutes, DefaultHealthTimeoutMinutes)
}

// WorkersAtOnce is maxUnavailable, the default when unset (0).
func (u UpdatesConfig) WorkersAtOnce() int {
	if u.MaxUnavailable <= 0 {
		return DefaultMaxUnavailable
	}
	return u.MaxUnavailable
}

func minutesOr(minutes, def int) time.Duration {
	if minutes <= 0 {
		minutes = def
	}
	return time.Duration(minutes) * time.Minute
}

// NodeNames lists the VM name of every node the config describes, in
// GroupOrder (control-plane groups first, then by name), node 1 to count
// within a group: `<clusterName>-<group>-<i>`, as the node groups name
// their VMs and the `nodes` output lists them. Groups with a count out of
// range are left out (Validate reports them).
func (c *Config) NodeNames() []string {
	var out []string
	for _, name := range c.GroupOrder() {
		g := c.NodeGroups[name]
		if !countInRange(g.Count) {
			continue
		}
		for i := 1; i <= g.Count; i++ {
			out = append(out, fmt.Sprintf("%s-%s-%d", c.ClusterName, name, i))
		}
	}
	return out
}
