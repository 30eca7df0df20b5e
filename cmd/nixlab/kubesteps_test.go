package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

func TestPreviewKubernetesSummary(t *testing.T) {
	const cmd = remoteCommandType
	cluster := func(op apitype.OpType) step { return step{op: op, typ: kubernetesClusterType, name: "kubernetes"} }
	note := kubeMembershipNote + "\n"
	cases := []struct {
		name  string
		steps []step
		want  string // stdout after the reboot summary line
	}{
		{name: "no Kubernetes steps: nothing added", steps: []step{
			{op: apitype.OpSame, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpSame, typ: cmd, name: "workers-1-kube-node"},
		}, want: ""},
		{name: "first up: the cluster and its joins, in the engine's order", steps: []step{
			cluster(apitype.OpCreate),
			{op: apitype.OpCreate, typ: cmd, name: "nixlab-kube-init"},
			{op: apitype.OpCreate, typ: cmd, name: "control-plane-2-kube-prepare"},
			{op: apitype.OpCreate, typ: cmd, name: "control-plane-2-kube-join"},
			{op: apitype.OpCreate, typ: cmd, name: "control-plane-2-kube-node"},
			{op: apitype.OpCreate, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpCreate, typ: cmd, name: "workers-1-kube-node"},
		}, want: "will create the Kubernetes cluster (kubeadm init on the first control plane, then the joins below)\n" +
			"will join: control-plane-2, workers-1\n" + note},
		{name: "scale up: only the new node joins", steps: []step{
			{op: apitype.OpSame, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpCreate, typ: cmd, name: "workers-3-kube-prepare"},
			{op: apitype.OpCreate, typ: cmd, name: "workers-3-kube-join"},
			{op: apitype.OpCreate, typ: cmd, name: "workers-3-kube-node"},
		}, want: "will join: workers-3\n" + note},
		{name: "scale down: drain before removal", steps: []step{
			{op: apitype.OpDelete, typ: cmd, name: "workers-2-kube-node"},
			{op: apitype.OpDelete, typ: cmd, name: "workers-2-kube-join"},
			{op: apitype.OpDelete, typ: cmd, name: "workers-2-kube-prepare"},
			{op: apitype.OpDelete, typ: vmType, name: "workers-2"},
		}, want: "will drain and remove: workers-2\n" + note},
		{name: "a replaced join joins again", steps: []step{
			{op: apitype.OpCreateReplacement, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpReplace, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpDeleteReplaced, typ: cmd, name: "workers-1-kube-join"},
		}, want: "will join again: workers-1\n" + note},
		{name: "the first control plane moves: init again is a new cluster", steps: []step{
			{op: apitype.OpCreate, typ: cmd, name: "a-cp-1-kube-init"},
			{op: apitype.OpDelete, typ: cmd, name: "control-plane-1-kube-init"},
		}, want: "warning: kubeadm init will run again on a-cp-1: that makes a NEW cluster (a new CA, the add-ons installed again), " +
			"and the nodes already joined stay in the old one. The first control plane is node 1 of the first control-plane group " +
			"in name order: keep that group first with a count above 0, or rebuild the cluster (nixlab destroy, nixlab up)\n"},
		{name: "the first control plane's VM replaced: init again", steps: []step{
			{op: apitype.OpCreateReplacement, typ: cmd, name: "control-plane-1-kube-init"},
			{op: apitype.OpReplace, typ: cmd, name: "control-plane-1-kube-init"},
		}, want: "warning: kubeadm init will run again on control-plane-1: that makes a NEW cluster (a new CA, the add-ons installed again), " +
			"and the nodes already joined stay in the old one. The first control plane is node 1 of the first control-plane group " +
			"in name order: keep that group first with a count above 0, or rebuild the cluster (nixlab destroy, nixlab up)\n"},
		{name: "the whole cluster deleted: no per-node drains", steps: []step{
			{op: apitype.OpDelete, typ: cmd, name: "workers-1-kube-node"},
			{op: apitype.OpDelete, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpDelete, typ: cmd, name: "nixlab-kube-init"},
			cluster(apitype.OpDelete),
		}, want: "will delete the Kubernetes cluster; its nodes are not drained one by one (as with destroy)\n"},
		{name: "updates, other types and repeated events do not count", steps: []step{
			{op: apitype.OpUpdate, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpDelete, typ: cmd, name: "workers-1-kube-join"},
			{op: apitype.OpCreate, typ: vmType, name: "odd-kube-join"},
			{op: apitype.OpDelete, typ: "nixlab:index:K8sNodeGroup", name: "big-kube-node"},
			{op: apitype.OpCreate, typ: cmd, name: "workers-1-kube-node"},
			{op: apitype.OpDelete, typ: cmd, name: "workers-4-kube-node"},
			{op: apitype.OpDelete, typ: cmd, name: "workers-4-kube-node"},
		}, want: "will drain and remove: workers-4\n" + note},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var evs []events.EngineEvent
			for _, s := range c.steps {
				evs = append(evs, s.event())
			}
			checkPreviewAfterReboots(t, evs, c.want)
		})
	}
}

// checkPreviewAfterReboots runs `nixlab preview` on an engine that reports
// evs and checks that, after the reboot summary ("no node reboots"), it
// writes exactly want.
func checkPreviewAfterReboots(t *testing.T, evs []events.EngineEvent, want string) {
	t.Helper()
	h := &harness{engine: &fakeEngine{events: evs}}
	code, stdout, stderr := h.run(t, "preview")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	first, rest, _ := strings.Cut(stdout, "\n")
	if first != "no node reboots" {
		t.Errorf("first line %q, want the reboot summary", first)
	}
	if rest != want {
		t.Errorf("after the reboot summary:\n%s\nwant:\n%s", rest, want)
	}
}

// TestPreviewKubernetesAfterReboots: with both, the reboot summary stays
// first (its first line is what scripts read) and the cluster lines follow.
func TestPreviewKubernetesAfterReboots(t *testing.T) {
	evs := []events.EngineEvent{
		step{op: apitype.OpUpdate, typ: vmType, name: "workers-1", vmName: "nixlab-workers-1", detailedDiff: []string{"cpu.cores"}}.event(),
		step{op: apitype.OpCreate, typ: remoteCommandType, name: "workers-3-kube-join"}.event(),
	}
	h := &harness{engine: &fakeEngine{events: evs}}
	code, stdout, _ := h.run(t, "preview")
	want := "will reboot: nixlab-workers-1 (cpu.cores)\n" + rollingRebootNote + "\nwill join: workers-3\n" + kubeMembershipNote + "\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, stdout, want)
	}
}

// TestPreviewFailureHasNoKubernetesSummary: a failed preview says nothing
// about joins or removals.
func TestPreviewFailureHasNoKubernetesSummary(t *testing.T) {
	ev := step{op: apitype.OpDelete, typ: remoteCommandType, name: "workers-2-kube-node"}.event()
	h := &harness{engine: &fakeEngine{events: []events.EngineEvent{ev}, err: &EngineError{Msg: "error: preview failed"}}}
	code, stdout, _ := h.run(t, "preview")
	if code != 1 || strings.Contains(stdout, "drain") || strings.Contains(stdout, "join") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
}
