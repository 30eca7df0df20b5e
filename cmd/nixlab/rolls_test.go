package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// rollEvent is an engine event of a roll step of node (its NIXLAB_NODE)
// whose triggers go from old to new ([node-system hash, version guard]).
func rollEvent(op apitype.OpType, resName, node string, old, cur []any) events.EngineEvent {
	urn := "urn:pulumi:lab::nixlab::nixlab:index:RollingUpdate$" + localCommandType + "::" + resName
	env := map[string]any{"NIXLAB_NODE": node}
	md := apitype.StepEventMetadata{
		Op: op, URN: urn, Type: localCommandType,
		Old: &apitype.StepEventStateMetadata{URN: urn, Type: localCommandType, Inputs: map[string]any{"environment": env, "triggers": old}},
		New: &apitype.StepEventStateMetadata{URN: urn, Type: localCommandType, Inputs: map[string]any{"environment": env, "triggers": cur}},
	}
	return events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: md}}}
}

func TestPreviewRollSummary(t *testing.T) {
	h1, h2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	note := rollNote + "\n"
	cases := []struct {
		name string
		evs  []events.EngineEvent
		want string // stdout after the reboot summary line
	}{
		{name: "unchanged: nothing", evs: []events.EngineEvent{
			rollEvent(apitype.OpSame, "workers-1-roll", "nixlab-workers-1", []any{h1, "-"}, []any{h1, "-"}),
		}},
		{name: "new nodes are created, not rolled", evs: []events.EngineEvent{
			step{op: apitype.OpCreate, typ: vmType, name: "workers-3"}.event(),
			step{op: apitype.OpCreate, typ: remoteCommandType, name: "workers-3-drain"}.event(),
			rollEvent(apitype.OpCreate, "workers-3-roll", "nixlab-workers-3", nil, []any{h1, "-"}),
		}},
		{name: "a step created for a running node (no longer held, or an older stack) runs", evs: []events.EngineEvent{
			step{op: apitype.OpCreate, typ: remoteCommandType, name: "workers-2-drain"}.event(),
			rollEvent(apitype.OpCreate, "workers-2-roll", "nixlab-workers-2", nil, []any{h1, "-"}),
		}, want: "will roll: nixlab-workers-2 (new roll step: rolls unless already on the current node system)\n" + note +
			"will drain before the VM update and uncordon after: workers-2 (new drain step: drains once)\n"},
		{name: "an update (new timeouts) rolls nothing", evs: []events.EngineEvent{
			rollEvent(apitype.OpUpdate, "workers-1-roll", "nixlab-workers-1", []any{h1, "-"}, []any{h1, "-"}),
		}},
		{name: "new image: every node in the engine's order, each once", evs: []events.EngineEvent{
			rollEvent(apitype.OpCreateReplacement, "control-plane-1-roll", "nixlab-control-plane-1", []any{h1, "-"}, []any{h2, "-"}),
			rollEvent(apitype.OpReplace, "control-plane-1-roll", "nixlab-control-plane-1", []any{h1, "-"}, []any{h2, "-"}),
			rollEvent(apitype.OpCreateReplacement, "workers-1-roll", "nixlab-workers-1", []any{h1, "-"}, []any{h2, "-"}),
		}, want: "will roll: nixlab-control-plane-1 (new node system bbbbbbbbbbbb), nixlab-workers-1 (new node system bbbbbbbbbbbb)\n" + note},
		{name: "version guard changed", evs: []events.EngineEvent{
			rollEvent(apitype.OpReplace, "workers-1-roll", "nixlab-workers-1", []any{h1, "1.35"}, []any{h1, "1.36"}),
		}, want: "will roll: nixlab-workers-1 (Kubernetes version guard 1.35 -> 1.36: checked again, a node on the current system only checked)\n" + note},
		{name: "drain around a VM update", evs: []events.EngineEvent{
			step{op: apitype.OpReplace, typ: remoteCommandType, name: "workers-2-drain"}.event(),
			step{op: apitype.OpReplace, typ: remoteCommandType, name: "workers-2-uncordon"}.event(),
			step{op: apitype.OpCreate, typ: vmType, name: "workers-3"}.event(),
			step{op: apitype.OpCreate, typ: remoteCommandType, name: "workers-3-drain"}.event(),
		}, want: "will drain before the VM update and uncordon after: workers-2\n"},
		{name: "other types with the suffix do not count", evs: []events.EngineEvent{
			step{op: apitype.OpReplace, typ: vmType, name: "odd-roll"}.event(),
			step{op: apitype.OpReplace, typ: localCommandType, name: "odd-drain"}.event(),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkPreviewAfterReboots(t, c.evs, c.want)
		})
	}
}
