package components_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/components/kubeadm"
)

func TestScriptKubeCheck_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-check.sh")
}

func kubeCheckManifests(t *testing.T, class string) string {
	t.Helper()
	if class == "-" {
		class = ""
	}
	b, err := kubeadm.CheckManifests(class)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (w *kubeWorld) check(t *testing.T, count, cni, class, timeout string) scriptResult {
	t.Helper()
	return w.run(t, "cp1", kubeCheckManifests(t, class), w.env("cp1"), "kube-check.sh", count, cni, class, timeout)
}

func TestScriptKubeCheck_AllGood(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ class, want string }{
		{"nfs", "cluster ok: 3 nodes Ready, CoreDNS answering, PVC on nfs bound, written and read back\n"},
		{"-", "cluster ok: 3 nodes Ready, CoreDNS answering\n"},
	} {
		w := kubeCluster(t, []string{"cp1"}, []string{"w1", "w2"})
		w.set(t, "namespace", "") // a leftover from an interrupted check
		res := w.check(t, "3", "flannel", tc.class, "30")
		if res.code != 0 {
			t.Fatalf("exit %d", res.code)
		}
		if res.stdout != tc.want {
			t.Errorf("stdout = %q, want %q", res.stdout, tc.want)
		}
		kubeCheckProgress(t, res.stderr)
		calls := w.callList(t)
		admin := "kubectl --kubeconfig " + w.kubeDir("cp1") + "/admin.conf --request-timeout=30s "
		// Watching commands run without --request-timeout (it would cut
		// their watch), bounded by their own --timeout.
		long := "kubectl --kubeconfig " + w.kubeDir("cp1") + "/admin.conf "
		order := []string{
			admin + "get nodes -o name",
			long + "wait --for=condition=Ready node --all --timeout=",
			long + "delete namespace nixlab-check --ignore-not-found --wait=true --timeout=",
			admin + "apply -f -",
			long + "-n nixlab-check wait --for=jsonpath={.status.phase}=Succeeded pod --all --timeout=",
			admin + "delete namespace nixlab-check --ignore-not-found --wait=false",
		}
		last := -1
		for _, c := range order {
			i := kubeIndex(calls[last+1:], c)
			if i < 0 {
				t.Fatalf("no %q after call %d in %q", c, last, calls)
			}
			last += i + 1
		}
		// The waits get the time left of the whole check (30 s), not less.
		for _, c := range calls {
			if i := strings.Index(c, " --timeout="); i >= 0 && strings.Contains(c, " wait ") {
				if sec, err := strconv.Atoi(strings.TrimSuffix(c[i+len(" --timeout="):], "s")); err != nil || sec < 25 || sec > 30 {
					t.Errorf("wait bounded by %q, want the ~30 s left", c[i:])
				}
			}
		}
		if got := w.read(t, "applied"); got != kubeCheckManifests(t, tc.class)+"\n" {
			t.Errorf("applied %q", got)
		}
		if w.has("namespace") {
			t.Errorf("namespace nixlab-check left behind")
		}
	}
}

func TestScriptKubeCheck_CNINone(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1"}, []string{"w1"})
	w.set(t, "nodes/w1.notready", "")
	res := w.check(t, "2", "none", "nfs", "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if want := "cluster up: 2 nodes registered; cni none: nodes stay NotReady until you install a CNI, so the Ready, CoreDNS and storage checks were skipped\n"; res.stdout != want {
		t.Errorf("stdout = %q, want %q", res.stdout, want)
	}
	calls := w.callList(t)
	for _, c := range []string{"wait", "--request-timeout=30s apply"} {
		if kubeCount(calls, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf "+c) != 0 {
			t.Errorf("%s ran with cni none: %q", c, calls)
		}
	}
}

func TestScriptKubeCheck_Failures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, count, class, phase string
		setup                     func(w *kubeWorld, t *testing.T)
		wants                     []string
	}{
		{name: "node missing", count: "4", class: "nfs", phase: "nodes",
			wants: []string{"want 4 registered nodes, have 3 (cp1 w1 w2) after 2 s"}},
		{name: "node too many", count: "2", class: "nfs", phase: "nodes",
			wants: []string{"want 2 registered nodes, have 3 (cp1 w1 w2)"}},
		{name: "not ready", count: "3", class: "nfs", phase: "ready",
			setup: func(w *kubeWorld, t *testing.T) { w.set(t, "nodes/w2.notready", "") },
			wants: []string{"not every node became Ready within 2 s: the flannel pods", "[cluster] ready:   | error: timed out waiting for the condition on nodes/w2"}},
		{name: "dns without storage", count: "3", class: "-", phase: "workloads",
			setup: func(w *kubeWorld, t *testing.T) { w.set(t, "checkfail", "dns") },
			wants: []string{"check pod(s) dns did not succeed within 2 s; Pod dns: CoreDNS does not answer kubernetes.default", "pods get no network from flannel",
				"[cluster] workloads:   | pod/dns       0/1     Error", "nslookup: can't resolve"}},
		{name: "storage", count: "3", class: "nfs", phase: "workloads",
			setup: func(w *kubeWorld, t *testing.T) { w.set(t, "checkfail", "storage") },
			wants: []string{"check pod(s) storage did not succeed within 2 s; Pod storage: PVC data on StorageClass nfs was not bound, mounted or writable", "[cluster] workloads:   | pod/storage   0/1     Pending"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := kubeCluster(t, []string{"cp1"}, []string{"w1", "w2"})
			if tc.setup != nil {
				tc.setup(w, t)
			}
			res := w.check(t, tc.count, "flannel", tc.class, "2")
			kubeExpectFailure(t, res, "cluster", tc.phase, tc.wants...)
			if tc.phase == "nodes" {
				if polls := kubeCount(w.callList(t), "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s get nodes -o name"); polls < 3 {
					t.Errorf("nodes listed %d times, want polls until the timeout", polls)
				}
			}
			if w.has("namespace") {
				t.Errorf("namespace nixlab-check left behind after a failure")
			}
			if res.took > 15*time.Second {
				t.Errorf("took %v with a 2 s timeout", res.took)
			}
		})
	}
}

func TestScriptKubeCheck_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil, {"3", "flannel", "nfs"}, {"0", "flannel", "nfs", "30"}, {"3", "cilium", "nfs", "30"},
		{"3", "flannel", "NFS", "30"}, {"3", "flannel", "nfs", "0"}, {"3", "flannel", "nfs", "30", "x"},
	} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", "x", w.env("cp1"), "kube-check.sh", args...)
		w.kubeUsage(t, res, "kube-check", args)
		if strings.Contains(res.stdout, "cluster") {
			t.Errorf("summary printed for invalid args")
		}
	}
}

func TestScriptKubeCheck_KubectlFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ fail, phase, want string }{
		{"--wait=true", "workloads", "cannot delete the leftover namespace nixlab-check"},
		{"apply", "workloads", "kubectl apply of the check objects failed"},
		{"get nodes", "nodes", "want 3 registered nodes, have 0 (none)"},
	} {
		w := kubeCluster(t, []string{"cp1"}, []string{"w1", "w2"})
		res := w.run(t, "cp1", kubeCheckManifests(t, "nfs"), w.env("cp1", "FAKE_KUBECTL_FAIL="+tc.fail), "kube-check.sh", "3", "calico", "nfs", "1")
		kubeExpectFailure(t, res, "cluster", tc.phase, tc.want, "Error from server (InternalError)")
	}
}

func TestScriptKubeCheck_APIDown(t *testing.T) {
	t.Parallel()
	w := kubeCluster(t, []string{"cp1"}, []string{"w1"})
	w.remove(t, "api")
	res := w.check(t, "2", "flannel", "nfs", "2")
	kubeExpectFailure(t, res, "cluster", "api", "the API server did not answer through "+w.kubeDir("cp1")+"/admin.conf within 2 s", "was refused")
	if res.took > 10*time.Second {
		t.Errorf("took %v with a 2 s timeout", res.took)
	}
}
