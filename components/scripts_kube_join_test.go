package components_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScriptKubeJoin_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-join.sh")
}

func TestScriptKubeJoin_FreshWorker(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1"), "kube-join.sh", "w1", "worker", "1.35", "-", "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	kubeCheckProgress(t, res.stderr)
	scriptMustContain(t, "stderr", res.stderr, "[w1] kubeadm join: running kubeadm join as a worker", "[w1] kubeadm join: joined as a worker")
	calls := w.callList(t)
	i := kubeIndex(calls, "kubeadm join --config "+w.runDir("w1")+"/nixlab-kube.")
	if i < 0 || !strings.HasSuffix(calls[i], "/config.yaml") {
		t.Fatalf("no kubeadm join --config <root-only file> in %q", calls)
	}
	if !strings.HasPrefix(calls[i-1], "sudo -n timeout --kill-after=30 30 kubeadm join") {
		t.Errorf("kubeadm join not run as root under timeout: %q", calls[i-1])
	}
	if kubeCount(calls, "kubeadm reset") != 0 {
		t.Errorf("a fresh node was reset: %q", calls)
	}
	w.checkSecretModes(t)
	if got := w.read(t, "nodes/w1"); got != "worker\n" {
		t.Errorf("node w1 = %q", got)
	}
}

func TestScriptKubeJoin_ControlPlaneWithVIP(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	manifest, vip := kubeVIP(t)
	res := w.run(t, "cp2", w.joinConfig(t, "cp2", true), w.env("cp2"), "kube-join.sh", "cp2", "control-plane", "1.35", vip, "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	// kube-vip is written after the join (its local API server exists only
	// then), mounting admin.conf.
	if got := scriptReadFile(t, filepath.Join(w.kubeDir("cp2"), "manifests", "kube-vip.yaml")); got != manifest {
		t.Errorf("kube-vip manifest:\n%s\nwant\n%s", got, manifest)
	}
	calls := w.callList(t)
	if j, m := kubeIndex(calls, "kubeadm join"), kubeIndex(calls, "sudo -n tee "+w.kubeDir("cp2")+"/manifests/kube-vip.yaml"); j < 0 || m < j {
		t.Errorf("want kube-vip written after kubeadm join: %q", calls)
	}
	if got := w.read(t, "nodes/cp2"); got != "control-plane\n" {
		t.Errorf("node cp2 = %q", got)
	}
}

func TestScriptKubeJoin_RerunAfterSuccess(t *testing.T) {
	t.Parallel()
	for _, cp := range []bool{false, true} {
		w := newKubeWorld(t)
		w.initCluster(t)
		w.joinNode(t, "n2", cp)
		role := map[bool]string{false: "worker", true: "control-plane"}[cp]
		res := w.run(t, "n2", w.joinConfig(t, "n2", cp), w.env("n2"), "kube-join.sh", "n2", role, "1.35", "-", "30")
		if res.code != 0 {
			t.Fatalf("%s: exit %d", role, res.code)
		}
		calls := w.callList(t)
		if kubeCount(calls, "kubeadm join") != 0 || kubeCount(calls, "kubeadm reset") != 0 {
			t.Errorf("%s: a joined node was joined or reset again: %q", role, calls)
		}
		if kubeIndex(calls, "kubectl --kubeconfig "+w.kubeDir("n2")+"/kubelet.conf --request-timeout=30s get node n2 -o jsonpath={.metadata.name} {.metadata.labels}") < 0 {
			t.Errorf("%s: the node's registration was not checked with kubelet.conf: %q", role, calls)
		}
		scriptMustContain(t, "stderr", res.stderr, "[n2] state: already joined as a "+role+"; nothing to do")
	}
}

func TestScriptKubeJoin_RerunAfterFailedJoin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, role, fail, why string
		prepare               func(w *kubeWorld, t *testing.T)
	}{
		{name: "worker, kubelet never bootstrapped", role: "worker", fail: "kubelet-start",
			why: "an earlier kubeadm join failed before the kubelet registered"},
		{name: "control plane, etcd join failed", role: "control-plane", fail: "control-plane-join",
			why: "the node has kubelet.conf but is not registered as a control-plane"},
		{name: "worker whose Node was deleted", role: "worker",
			why: "the node has kubelet.conf but is not registered as a worker",
			prepare: func(w *kubeWorld, t *testing.T) {
				if err := os.Remove(filepath.Join(w.cluster, "nodes", "n2")); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			w.initCluster(t)
			cp := tc.role == "control-plane"
			config := w.joinConfig(t, "n2", cp)
			if tc.fail != "" {
				res := w.run(t, "n2", config, w.env("n2", "FAKE_JOIN_FAIL="+tc.fail), "kube-join.sh", "n2", tc.role, "1.35", "-", "30")
				kubeExpectFailure(t, res, "n2", "kubeadm join", "kubeadm join failed", "error execution phase "+tc.fail)
			} else {
				w.joinNode(t, "n2", cp)
				tc.prepare(w, t)
			}
			res := w.run(t, "n2", config, w.env("n2"), "kube-join.sh", "n2", tc.role, "1.35", "-", "30")
			if res.code != 0 {
				t.Fatalf("re-run: exit %d", res.code)
			}
			calls := w.callList(t)
			r, j := kubeIndex(calls, "kubeadm reset -f"), kubeIndex(calls, "kubeadm join")
			if r < 0 || j < r {
				t.Errorf("want kubeadm reset -f before kubeadm join: %q", calls)
			}
			scriptMustContain(t, "stderr", res.stderr, "[n2] state: "+tc.why)
			if got := w.read(t, "nodes/n2"); got != tc.role+"\n" {
				t.Errorf("node n2 = %q after the re-run", got)
			}
		})
	}
}

func TestScriptKubeJoin_APIDownResetsNothing(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	w.joinNode(t, "w1", false)
	if err := os.Remove(filepath.Join(w.cluster, "api")); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1"), "kube-join.sh", "w1", "worker", "1.35", "-", "2")
	kubeExpectFailure(t, res, "w1", "state", "kubelet.conf exists but the API server did not answer about node w1 within 2 s", "nothing is reset", "was refused")
	calls := w.callList(t)
	if kubeCount(calls, "kubeadm reset") != 0 || kubeCount(calls, "kubeadm join") != 0 {
		t.Errorf("reset or join on a node the API did not answer about: %q", calls)
	}
	if kubeCount(calls, "kubectl ") < 2 {
		t.Errorf("the API was not polled: %q", calls)
	}
	if res.took > 10*time.Second {
		t.Errorf("took %v with a 2 s timeout", res.took)
	}
}

func TestScriptKubeJoin_ExpiredTokenSurfaced(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	w.set(t, "tokens/q7x2ab", kubeToken+" "+kubeExpiry(-time.Hour)+"\n")
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1"), "kube-join.sh", "w1", "worker", "1.35", "-", "30")
	kubeExpectFailure(t, res, "w1", "kubeadm join", "[w1] kubeadm join: failed: kubeadm join failed",
		`[w1] kubeadm join:   | error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "q7x2ab"`)
}

func TestScriptKubeJoin_FailureOutputRedacted(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1", "FAKE_JOIN_FAIL=kubelet-start"), "kube-join.sh", "w1", "worker", "1.35", "-", "30")
	kubeExpectFailure(t, res, "w1", "kubeadm join", "[w1] kubeadm join:   | error execution phase kubelet-start: timed out waiting for the condition (token <redacted-token>)")
}

func TestScriptKubeJoin_VersionMismatch(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1", "FAKE_KUBEADM_VERSION=v1.34.3"), "kube-join.sh", "w1", "worker", "1.35", "-", "30")
	kubeExpectFailure(t, res, "w1", "version", "the node's kubeadm is v1.34.3 (Kubernetes 1.34) but the cluster must run 1.35", "nixos/flake.nix")
	if calls := w.callList(t); len(calls) != 1 {
		t.Errorf("calls = %q, want only the version query", calls)
	}
}

func TestScriptKubeJoin_EmptyStdin(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "w1", "", w.env("w1"), "kube-join.sh", "w1", "worker", "-", "-", "30")
	kubeExpectFailure(t, res, "w1", "config", "nothing on stdin: the kubeadm JoinConfig expected")
}

func TestScriptKubeJoin_InvalidArgs(t *testing.T) {
	t.Parallel()
	_, vip := kubeVIP(t)
	for _, args := range [][]string{
		nil,
		{"w1", "worker", "1.35", "-"},
		{"w1", "worker", "1.35", "-", "30", "x"},
		{"w1", "master", "1.35", "-", "30"},
		{"w 1", "worker", "1.35", "-", "30"},
		{"w1", "worker", "1.35.2", "-", "30"},
		{"w1", "worker", "1.35", vip, "30"},
		{"w1", "control-plane", "1.35", "!!", "30"},
		{"w1", "control-plane", "1.35", base64.StdEncoding.EncodeToString([]byte("kind: Pod\n")), "30"},
		{"w1", "worker", "1.35", "-", "-1"},
	} {
		w := newKubeWorld(t)
		res := w.run(t, "w1", "x", w.env("w1"), "kube-join.sh", args...)
		w.kubeUsage(t, res, "kube-join", args)
	}
}

func TestScriptKubeJoin_SecretFileFailures(t *testing.T) {
	t.Parallel()
	kubeSecretFileFailures(t, "w1", "kube-join.sh", "config", func(w *kubeWorld) string { return w.joinConfig(t, "w1", false) }, "w1", "worker", "1.35", "-", "30")
}

func TestScriptKubeJoin_KubeadmMissing(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1", "FAKE_KUBEADM_FAIL=version"), "kube-join.sh", "w1", "worker", "-", "-", "30")
	kubeExpectFailure(t, res, "w1", "version", "cannot run 'kubeadm version -o short'")
}

func TestScriptKubeJoin_KubeVIPRerun(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	manifest, vip := kubeVIP(t)
	path := filepath.Join(w.kubeDir("cp2"), "manifests", "kube-vip.yaml")
	join := func() {
		t.Helper()
		res := w.run(t, "cp2", w.joinConfig(t, "cp2", true), w.env("cp2"), "kube-join.sh", "cp2", "control-plane", "1.35", vip, "30")
		if res.code != 0 {
			t.Fatalf("exit %d", res.code)
		}
	}
	join()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	join()
	if after, _ := os.Stat(path); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the unchanged kube-vip manifest was rewritten (the kubelet would restart kube-vip)")
	}
	// A manifest that differs (an older kube-vip) is replaced.
	scriptWriteFile(t, path, "old\n")
	join()
	if got := scriptReadFile(t, path); got != manifest {
		t.Errorf("kube-vip manifest not replaced: %q", got)
	}
}

func TestScriptKubeJoin_VersionUnreadable(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "w1", w.joinConfig(t, "w1", false), w.env("w1", "FAKE_KUBEADM_VERSION=1.35.0"), "kube-join.sh", "w1", "worker", "-", "-", "30")
	kubeExpectFailure(t, res, "w1", "version", "'kubeadm version -o short' printed '1.35.0', not vMAJOR.MINOR.PATCH")
}

func TestScriptKubeJoin_LeftoverFiles(t *testing.T) {
	t.Parallel()
	// What a join that failed before the kubelet registered leaves: the CA
	// (control-plane-prepare or the TLS bootstrap wrote it), the bootstrap
	// kubeconfig, or both. Each alone is enough for a reset.
	for _, files := range [][]string{{"pki/ca.crt"}, {"bootstrap-kubelet.conf"}, {"pki/ca.crt", "bootstrap-kubelet.conf"}} {
		w := newKubeWorld(t)
		w.initCluster(t)
		for _, f := range files {
			w.nodeFile(t, "cp2", f, "left over\n")
		}
		w.joinNode(t, "cp2", true)
		calls := w.callList(t)
		if r, j := kubeIndex(calls, "kubeadm reset -f"), kubeIndex(calls, "kubeadm join"); r < 0 || j < r {
			t.Errorf("leftover %q: want kubeadm reset -f before kubeadm join: %q", files, calls)
		}
	}
}
