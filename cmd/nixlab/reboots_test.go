package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// step is a ResourcePreEvent as the engine sends it during a preview: the
// step's op, the resource's type, its old and new state and the diff
// (apitype.StepEventMetadata). name is the resource name; vmName the VM's
// name input ("" for none).
type step struct {
	op           apitype.OpType
	typ, name    string
	vmName       string
	template     bool
	diffs        []string
	detailedDiff []string
}

func (s step) event() events.EngineEvent {
	urn := "urn:pulumi:lab::nixlab::nixlab:index:K8sNodeGroup$" + s.typ + "::" + s.name
	inputs := map[string]any{}
	if s.vmName != "" {
		inputs["name"] = s.vmName
	}
	md := apitype.StepEventMetadata{
		Op: s.op, URN: urn, Type: s.typ, Diffs: s.diffs,
		Old: &apitype.StepEventStateMetadata{URN: urn, Type: s.typ, Inputs: inputs, Outputs: map[string]any{"template": s.template}},
		New: &apitype.StepEventStateMetadata{URN: urn, Type: s.typ, Inputs: inputs},
	}
	if s.detailedDiff != nil {
		md.DetailedDiff = map[string]apitype.PropertyDiff{}
		for _, p := range s.detailedDiff {
			md.DetailedDiff[p] = apitype.PropertyDiff{Kind: apitype.DiffUpdate, InputDiff: true}
		}
	}
	return events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: md}}}
}

func TestPreviewRebootSummary(t *testing.T) {
	const vm = vmType
	other := []events.EngineEvent{
		{EngineEvent: apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{Message: "hello"}}},
		{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{}}},
	}
	cases := []struct {
		name  string
		steps []step
		want  string // the summary line
	}{
		{name: "no steps", want: "no node reboots"},
		{
			name: "cores and memory",
			steps: []step{
				{op: apitype.OpUpdate, typ: vm, name: "workers-2", vmName: "nixlab-workers-2", detailedDiff: []string{"memory.dedicated"}},
				{op: apitype.OpUpdate, typ: vm, name: "workers-1", vmName: "nixlab-workers-1", detailedDiff: []string{"cpu.cores", "tags[0]"}},
			},
			want: "will reboot: nixlab-workers-1 (cpu.cores), nixlab-workers-2 (memory.dedicated)",
		},
		{
			name: "top-level diffs when there is no detailed diff",
			steps: []step{
				{op: apitype.OpUpdate, typ: vm, name: "workers-1", vmName: "nixlab-workers-1", diffs: []string{"networkDevices", "description"}},
			},
			want: "will reboot: nixlab-workers-1 (networkDevices)",
		},
		{
			name: "cloud-init address and several paths",
			steps: []step{
				{op: apitype.OpUpdate, typ: vm, name: "control-plane-1", vmName: "nixlab-control-plane-1",
					detailedDiff: []string{"initialization.ipConfigs[0].ipv4.address", "cpu.cores"}},
			},
			want: "will reboot: nixlab-control-plane-1 (cpu.cores, initialization.ipConfigs[0].ipv4.address)",
		},
		{
			name: "online changes do not reboot",
			steps: []step{
				{op: apitype.OpUpdate, typ: vm, name: "workers-1", vmName: "nixlab-workers-1", detailedDiff: []string{"disks[0].size", "tags[1]", "description", "onBoot"}},
			},
			want: "no node reboots",
		},
		{
			name: "not updates, not VMs, templates",
			steps: []step{
				{op: apitype.OpCreate, typ: vm, name: "workers-3", vmName: "nixlab-workers-3", detailedDiff: []string{"cpu.cores"}},
				{op: apitype.OpReplace, typ: vm, name: "workers-1", vmName: "nixlab-workers-1", detailedDiff: []string{"clone.vmId", "cpu.cores"}},
				{op: apitype.OpSame, typ: vm, name: "workers-2", vmName: "nixlab-workers-2"},
				{op: apitype.OpUpdate, typ: "command:remote:Command", name: "workers-1-ready", detailedDiff: []string{"cpu.cores"}},
				{op: apitype.OpUpdate, typ: vm, name: "template-vm", vmName: "nixlab-template", template: true, detailedDiff: []string{"memory.dedicated"}},
			},
			want: "no node reboots",
		},
		{
			name: "VM without a known name",
			steps: []step{
				{op: apitype.OpUpdate, typ: vm, name: "workers-1", detailedDiff: []string{"vga.type"}},
			},
			want: "will reboot: workers-1 (vga.type)",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := append([]events.EngineEvent{}, other...)
			for _, s := range c.steps {
				evs = append(evs, s.event())
			}
			h := &harness{engine: &fakeEngine{events: evs}}
			code, stdout, stderr := h.run(t, "preview")
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if lines[0] != c.want {
				t.Errorf("summary %q, want %q", lines[0], c.want)
			}
			rolling := strings.Contains(stdout, rollingRebootNote)
			if wantRolling := strings.HasPrefix(c.want, "will reboot"); rolling != wantRolling {
				t.Errorf("one-at-a-time note shown %v, want %v:\n%s", rolling, wantRolling, stdout)
			}
		})
	}
}

// TestPreviewFailureHasNoSummary: a failed preview reports the failure and
// says nothing about reboots (it does not know).
func TestPreviewFailureHasNoSummary(t *testing.T) {
	ev := step{op: apitype.OpUpdate, typ: vmType, name: "workers-1", vmName: "nixlab-workers-1", detailedDiff: []string{"cpu.cores"}}.event()
	h := &harness{engine: &fakeEngine{events: []events.EngineEvent{ev}, err: &EngineError{Msg: "error: preview failed"}}}
	code, stdout, stderr := h.run(t, "preview")
	if code != 1 || !strings.Contains(stderr, "preview failed") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "reboot") {
		t.Errorf("failed preview printed a reboot summary:\n%s", stdout)
	}
}
