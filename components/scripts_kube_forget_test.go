package components_test

import (
	"testing"
)

func TestScriptKubeForget_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-forget.sh")
}

func (w *kubeWorld) forget(t *testing.T, node, role string) scriptResult {
	t.Helper()
	return w.run(t, "cp1", "", w.env("cp1"), "kube-forget.sh", node, role)
}

func TestScriptKubeForget_Worker(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1"}, []string{"w1", "w2"})
	res := w.forget(t, "w2", "worker")
	if res.code != 0 || res.stdout != "" {
		t.Fatalf("exit %d, stdout %q", res.code, res.stdout)
	}
	kubeCheckProgress(t, res.stderr)
	if w.has("nodes/w2") || !w.has("nodes/w1") {
		t.Errorf("want w2 deleted, w1 kept")
	}
	if calls := w.callList(t); kubeCount(calls, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s -n kube-system") != 0 {
		t.Errorf("etcd touched for a worker: %q", calls)
	}
	// Again: nothing left, still fine.
	res = w.forget(t, "w2", "worker")
	if res.code != 0 {
		t.Errorf("second run: exit %d", res.code)
	}
}

func TestScriptKubeForget_ControlPlane(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		member   bool // cp3 still has an etcd member (its reset could not remove it)
		sickCP1  bool // cp1's etcd is not Running: another one is used
		wantNote string
	}{
		{name: "leftover member", member: true, wantNote: "[cp3] etcd: removing the leftover etcd member fd422379fda50e48 (started) with etcd-cp1"},
		{name: "leftover member, first etcd down", member: true, sickCP1: true, wantNote: "with etcd-cp2"},
		{name: "member already removed", wantNote: "[cp3] etcd: no etcd member named cp3 (kubeadm reset removed it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sick []string
			if tc.sickCP1 {
				sick = []string{"cp1"}
			}
			w := kubeCluster(t, []string{"cp1", "cp2", "cp3"}, nil, sick...)
			if !tc.member {
				w.remove(t, "etcd/cp3")
			}
			res := w.forget(t, "cp3", "control-plane")
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, tc.wantNote, "[cp3] node: Node object deleted")
			if w.has("etcd/cp3") || !w.has("etcd/cp1") || !w.has("etcd/cp2") || w.has("nodes/cp3") {
				t.Errorf("want only cp3's member and Node gone")
			}
			calls := w.callList(t)
			if tc.member && kubeIndex(calls, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s -n kube-system exec etcd-cp") < 0 {
				t.Errorf("etcdctl not run in an etcd pod: %q", calls)
			}
		})
	}
}

func TestScriptKubeForget_NoOtherEtcd(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1", "cp2"}, nil, "cp1")
	res := w.forget(t, "cp2", "control-plane")
	kubeExpectFailure(t, res, "cp2", "etcd", "no running etcd pod on another control plane to remove cp2's member with")
	if !w.has("nodes/cp2") {
		t.Errorf("Node deleted although its etcd member could not be removed")
	}
}

func TestScriptKubeForget_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"cp2"}, {"cp2", "etcd"}, {"cp2", "control-plane", "x"}, {"cp 2", "worker"}, {"", "worker"}} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", "", w.env("cp1"), "kube-forget.sh", args...)
		w.kubeUsage(t, res, "kube-forget", args)
	}
}

func TestScriptKubeForget_KubectlFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ fail, phase, want string }{
		{"get pods", "etcd", "cannot list the etcd pods"},
		{"member list", "etcd", "etcdctl member list in etcd-cp1 failed"},
		{"member remove", "etcd", "etcdctl member remove fd422379fda50e48 failed"},
		{"delete node", "node", "kubectl delete node failed"},
	} {
		w := kubeCluster(t, []string{"cp1", "cp2", "cp3"}, nil)
		res := w.run(t, "cp1", "", w.env("cp1", "FAKE_KUBECTL_FAIL="+tc.fail), "kube-forget.sh", "cp3", "control-plane")
		kubeExpectFailure(t, res, "cp3", tc.phase, tc.want, "Error from server (InternalError)")
		if tc.phase == "etcd" && !w.has("nodes/cp3") {
			t.Errorf("%s failing: the Node was deleted anyway", tc.fail)
		}
	}
}
