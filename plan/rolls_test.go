package plan

import (
	"reflect"
	"strings"
	"testing"
)

// With --against, a plan says which running nodes a change rolls: every
// node not held when the node system (a setting baked into it) or the
// Kubernetes version guard changes, a node that is no longer held; and
// nothing for a change that leaves the node system alone.
func TestCompareWithRolls(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	all := []string{"nixlab-control-plane-1", "nixlab-workers-1", "nixlab-workers-2"}
	hold := "  nixlab:updates:\n    hold: [nixlab-workers-2]\n"
	cases := []struct {
		name          string
		before, after string // "extra" of rebootStack
		rolls         []string
		reason        string
	}{
		{name: "nothing changed"},
		{name: "time zone: a new node system", after: "  nixlab:timezone: Europe/Berlin\n", rolls: all, reason: "node system "},
		{name: "admin user: a new node system", after: "  nixlab:adminUser: ops\n", rolls: all, reason: "node system "},
		{name: "version guard", after: "  nixlab:kubernetes:\n    version: \"1.35\"\n", rolls: all, reason: "Kubernetes version guard any -> 1.35"},
		{name: "a held node is not rolled", before: hold, after: hold + "  nixlab:timezone: Europe/Berlin\n",
			rolls: []string{"nixlab-control-plane-1", "nixlab-workers-1"}, reason: "node system "},
		{name: "a node no longer held", before: hold, rolls: []string{"nixlab-workers-2"}, reason: "no longer held"},
		{name: "scale up: new nodes are cloned, not rolled", after: "", rolls: nil},
		{name: "more worker cores reboot, not roll", after: "", rolls: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			edit := func(extra string) map[string]string { return map[string]string{"extra": extra} }
			after := edit(c.after)
			switch c.name {
			case "scale up: new nodes are cloned, not rolled":
				after["%COUNT%"] = "3"
			case "more worker cores reboot, not roll":
				after["%CORES%"] = "4"
			}
			dir := tempProject(t, map[string]string{"before": rebootStack(edit(c.before)), "after": rebootStack(after)})
			old := viaJSON(t, build(t, dir, "before"))
			p := build(t, dir, "after")
			got := p.CompareWith(old, "before.json")
			var nodes []string
			for _, r := range got.Rolls {
				nodes = append(nodes, r.Node)
				if !strings.Contains(strings.Join(r.Reasons, "; "), c.reason) {
					t.Errorf("%s: reasons %q lack %q", r.Node, r.Reasons, c.reason)
				}
			}
			if !reflect.DeepEqual(nodes, c.rolls) {
				t.Errorf("rolls %q, want %q", nodes, c.rolls)
			}
			text := renderText(t, p)
			if len(c.rolls) == 0 && !strings.Contains(text, "Rolls (compared with before.json)\n  no node rolls\n") {
				t.Errorf("text does not say no node rolls:\n%s", text)
			}
			if len(c.rolls) > 0 && !strings.Contains(text, "  will roll: "+c.rolls[0]+" (") {
				t.Errorf("text does not list the rolls:\n%s", text)
			}
		})
	}
}

// The plan shows the roll policy: order, holds, bounds.
func TestPlanShowsTheRollPolicy(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	extra := "  nixlab:updates:\n    maxUnavailable: 2\n    drainTimeoutMinutes: 5\n    rollback: false\n    hold: [nixlab-workers-1]\n"
	dir := tempProject(t, map[string]string{"lab": rebootStack(map[string]string{"extra": extra})})
	p := build(t, dir, "lab")
	u := p.Updates
	if u == nil || len(u.NodeSystemHash) != 64 || !reflect.DeepEqual(u.Order, []string{"nixlab-control-plane-1", "nixlab-workers-2"}) ||
		!reflect.DeepEqual(u.Held, []string{"nixlab-workers-1"}) || u.MaxUnavailable != 2 || u.DrainTimeoutMinutes != 5 ||
		u.HealthTimeoutMinutes != 10 || u.Rollback {
		t.Fatalf("updates %+v", u)
	}
	text := renderText(t, p)
	for _, want := range []string{
		"\nRolls\n", "  order         nixlab-control-plane-1, nixlab-workers-2 (control planes one at a time, then workers 2 at a time)\n",
		"  held          nixlab-workers-1 (never rolled; still drained and rebooted by VM changes)\n",
		"  bounds        drain 5 min, health gate 10 min, rollback off\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if back := viaJSON(t, p); !reflect.DeepEqual(back.Updates, p.Updates) {
		t.Errorf("JSON round trip: %+v, want %+v", back.Updates, p.Updates)
	}
}

// A plan JSON of an earlier nixlab has no roll data: the comparison says
// so instead of claiming no node rolls.
func TestCompareWithAPlanWithoutRollData(t *testing.T) {
	unsetEnv(t, "SSH_AUTH_SOCK")
	dir := tempProject(t, map[string]string{"lab": rebootStack(nil)})
	old := viaJSON(t, build(t, dir, "lab"))
	old.Updates = nil
	p := build(t, dir, "lab")
	if c := p.CompareWith(old, "old.json"); !c.NoRollData || len(c.Rolls) != 0 {
		t.Fatalf("comparison %+v", c)
	}
	if text := renderText(t, p); !strings.Contains(text, "Rolls (compared with old.json)\n  the earlier plan has no roll data") {
		t.Errorf("text:\n%s", text)
	}
}
