package components_test

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScriptKubeDrain_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-drain.sh")
}

// kubeCluster is a running cluster in the fake: control planes with etcd
// members (healthy unless listed in sick) and workers.
func kubeCluster(t *testing.T, planes, workers []string, sick ...string) *kubeWorld {
	t.Helper()
	w := newKubeWorld(t)
	w.set(t, "api", "")
	w.nodeFile(t, "cp1", "admin.conf", "kind: Config\n")
	for i, n := range planes {
		w.set(t, "nodes/"+n, "control-plane\n")
		ready := "True"
		for _, s := range sick {
			if s == n {
				ready = "False"
			}
		}
		w.set(t, "etcd/"+n, []string{"8e9e05c52164694d", "91bc3c398fb3c146", "fd422379fda50e48", "2f5a8e7c1b3d4e60", "3a6b9c0d1e2f3a4b"}[i]+" "+ready+"\n")
	}
	for _, n := range workers {
		w.set(t, "nodes/"+n, "worker\n")
	}
	return w
}

func (w *kubeWorld) drain(t *testing.T, node, role string) scriptResult {
	t.Helper()
	return w.run(t, "cp1", "", w.env("cp1"), "kube-drain.sh", node, role, "7")
}

func TestScriptKubeDrain_Worker(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1"}, []string{"w1", "w2"})
	res := w.drain(t, "w2", "worker")
	if res.code != 0 || res.stdout != "" {
		t.Fatalf("exit %d, stdout %q", res.code, res.stdout)
	}
	kubeCheckProgress(t, res.stderr)
	calls := w.callList(t)
	admin := "kubectl --kubeconfig " + w.kubeDir("cp1") + "/admin.conf "
	c, d := kubeIndex(calls, admin+"--request-timeout=30s cordon w2"), kubeIndex(calls, admin+"drain w2 --ignore-daemonsets --delete-emptydir-data --timeout=7s")
	if c < 0 || d < c {
		t.Errorf("want cordon, then drain with --timeout=7s: %q", calls)
	}
	if kubeIndex(calls, "sudo -n timeout --kill-after=10 67 kubectl") < 0 {
		t.Errorf("drain not bounded by timeout 67 s as root: %q", calls)
	}
	if kubeCount(calls, admin+"--request-timeout=30s -n kube-system get pods") != 0 {
		t.Errorf("etcd looked at for a worker: %q", calls)
	}
	if !w.has("drained/w2") || w.has("drained/w1") {
		t.Errorf("wrong node drained")
	}
}

func TestScriptKubeDrain_NodeGone(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1", "cp2"}, nil)
	res := w.drain(t, "w9", "worker")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	scriptMustContain(t, "stderr", res.stderr, "[w9] node: no Node object: nothing to drain")
	if calls := w.callList(t); kubeCount(calls, "kubectl") != 1 {
		t.Errorf("want only the Node lookup: %q", calls)
	}
	// An API that does not answer is a failure, not "gone".
	if err := os.Remove(filepath.Join(w.cluster, "api")); err != nil {
		t.Fatal(err)
	}
	res = w.drain(t, "w9", "worker")
	kubeExpectFailure(t, res, "w9", "node", "cannot read node w9", "was refused")
}

func TestScriptKubeDrain_Quorum(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		planes  []string
		sick    []string
		remove  string
		refused string // "" when allowed
	}{
		{name: "last control plane", planes: []string{"cp1"}, remove: "cp1",
			refused: "refusing to remove cp1: it is the last control plane"},
		{name: "3 healthy, remove one", planes: []string{"cp1", "cp2", "cp3"}, remove: "cp3"},
		{name: "2 healthy, remove one", planes: []string{"cp1", "cp2"}, remove: "cp2"},
		{name: "3 with another sick", planes: []string{"cp1", "cp2", "cp3"}, sick: []string{"cp2"}, remove: "cp3",
			refused: "refusing to remove cp3: etcd would keep 2 members of which 1 healthy, but needs 2 (a majority of 2) to keep quorum; unhealthy now: cp2. Repair them first"},
		{name: "3 with the leaving one sick", planes: []string{"cp1", "cp2", "cp3"}, sick: []string{"cp3"}, remove: "cp3"},
		{name: "5 with two others sick", planes: []string{"cp1", "cp2", "cp3", "cp4", "cp5"}, sick: []string{"cp4", "cp5"}, remove: "cp3",
			refused: "etcd would keep 4 members of which 2 healthy, but needs 3 (a majority of 4)"},
		{name: "5 with one other sick", planes: []string{"cp1", "cp2", "cp3", "cp4", "cp5"}, sick: []string{"cp5"}, remove: "cp3"},
		{name: "2 with the other sick", planes: []string{"cp1", "cp2"}, sick: []string{"cp1"}, remove: "cp2",
			refused: "etcd would keep 1 members of which 0 healthy, but needs 1 (a majority of 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := kubeCluster(t, tc.planes, []string{"w1"}, tc.sick...)
			res := w.drain(t, tc.remove, "control-plane")
			calls := w.callList(t)
			if tc.refused != "" {
				kubeExpectFailure(t, res, tc.remove, "quorum", tc.refused)
				if kubeCount(calls, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s cordon") != 0 || w.has("drained/"+tc.remove) {
					t.Errorf("cordoned or drained after a refusal: %q", calls)
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			scriptMustContain(t, "stderr", res.stderr, "["+tc.remove+"] quorum: etcd keeps quorum: ")
			if !w.has("drained/" + tc.remove) {
				t.Errorf("%s not drained", tc.remove)
			}
		})
	}
}

func TestScriptKubeDrain_Timeout(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1"}, []string{"w1"})
	w.set(t, "pdb", "")
	res := w.drain(t, "w1", "worker")
	kubeExpectFailure(t, res, "w1", "drain", "kubectl drain did not finish within 7 s", "PodDisruptionBudget", "w1 stays cordoned",
		"'kubectl uncordon w1'",
		`[w1] drain:   | error when evicting pods/"web-0" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`,
		"global timeout reached: 7s")
	if !w.has("cordoned/w1") || w.has("drained/w1") {
		t.Errorf("want w1 cordoned, not drained")
	}
}

func TestScriptKubeDrain_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"w1", "worker"}, {"w1", "worker", "0"}, {"w1", "node", "5"}, {"w1", "worker", "5", "x"}, {"-", "worker", "5"}} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", "", w.env("cp1"), "kube-drain.sh", args...)
		w.kubeUsage(t, res, "kube-drain", args)
	}
}

func TestScriptKubeDrain_ControlPlaneRemovalFlow(t *testing.T) {
	t.Parallel()
	// The delete order of the graph: kube-drain (first control plane),
	// kube-leave (the node), kube-forget (first control plane).
	w := newKubeWorld(t)
	w.initCluster(t)
	w.joinNode(t, "cp2", true)
	w.joinNode(t, "cp3", true)
	var all []string
	step := func(node, script string, args ...string) {
		t.Helper()
		res := w.run(t, node, "", w.env(node), script, args...)
		if res.code != 0 {
			t.Fatalf("%s: exit %d", script, res.code)
		}
		all = append(all, w.callList(t)...)
	}
	step("cp1", "kube-drain.sh", "cp3", "control-plane", "60")
	if !w.has("drained/cp3") || !w.has("nodes/cp3") {
		t.Fatalf("after drain: want cp3 drained and still registered")
	}
	step("cp3", "kube-leave.sh", "cp3", "control-plane")
	if w.has("etcd/cp3") {
		t.Errorf("after leave: cp3's etcd member is still there")
	}
	step("cp1", "kube-forget.sh", "cp3", "control-plane")
	if w.has("nodes/cp3") || !w.has("nodes/cp2") || !w.has("etcd/cp2") {
		t.Errorf("after forget: want cp3 gone, cp2 kept")
	}
	d, r, del := kubeIndex(all, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf drain cp3"), kubeIndex(all, "kubeadm reset -f"),
		kubeIndex(all, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s delete node cp3")
	if d < 0 || r < d || del < r {
		t.Errorf("want drain, reset, delete node in this order: %q", all)
	}
	// cp2 may go now too (2 healthy members, 1 stays), but cp1 may not.
	res := w.run(t, "cp1", "", w.env("cp1"), "kube-drain.sh", "cp1", "control-plane", "60")
	if res.code != 0 {
		t.Errorf("draining cp1 with cp2 healthy: exit %d", res.code)
	}
}

func TestScriptKubeDrain_KubectlFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ fail, phase, want string }{
		{"get nodes -l", "quorum", "cannot list the control-plane nodes"},
		{"get pods -l component=etcd", "quorum", "cannot list the etcd members (pods with label component=etcd in kube-system)"},
		{"cordon", "cordon", "kubectl cordon failed"},
	} {
		w := kubeCluster(t, []string{"cp1", "cp2", "cp3"}, nil)
		res := w.run(t, "cp1", "", w.env("cp1", "FAKE_KUBECTL_FAIL="+tc.fail), "kube-drain.sh", "cp3", "control-plane", "7")
		kubeExpectFailure(t, res, "cp3", tc.phase, tc.want, "Error from server (InternalError)")
		if w.has("drained/cp3") {
			t.Errorf("%s failing: drained anyway", tc.fail)
		}
	}
}
