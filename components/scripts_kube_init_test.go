package components_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/components/kubeadm"
)

func TestScriptKubeInit_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-init.sh")
}

func TestScriptKubeInit_Fresh(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	manifest, vip := kubeVIP(t)
	config := kubeInitConfig(t)
	res := w.run(t, "cp1", config, w.env("cp1"), "kube-init.sh", "cp1", "1.35", vip, "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != w.caHash+"\n" {
		t.Errorf("stdout = %q, want the CA hash %q", res.stdout, w.caHash)
	}
	kubeCheckProgress(t, res.stderr)
	scriptMustContain(t, "stderr", res.stderr,
		"[cp1] kubeadm init: running kubeadm init v1.35.2",
		"[cp1] kube-vip: writing the kube-vip manifest with /etc/kubernetes/super-admin.conf for the time of kubeadm init")
	calls := w.callList(t)
	initCall := "kubeadm init --upload-certs --config " + w.runDir("cp1") + "/nixlab-kube."
	i := kubeIndex(calls, initCall)
	if i < 0 || !strings.HasSuffix(calls[i], "/config.yaml") {
		t.Fatalf("no %q... call in %q", initCall, calls)
	}
	if !strings.HasPrefix(calls[i-1], "sudo -n timeout --kill-after=30 30 kubeadm init") {
		t.Errorf("kubeadm init not bounded by timeout under sudo: %q", calls[i-1])
	}
	if kubeCount(calls, "kubeadm reset") != 0 {
		t.Errorf("a fresh node was reset: %q", calls)
	}
	// kubeadm read the rendered config with only the version filled in.
	want := strings.Replace(config, kubeadm.VersionPlaceholder, "v1.35.2", 1)
	if got := w.read(t, "init-config"); strings.TrimRight(got, "\n") != strings.TrimRight(want, "\n") {
		t.Errorf("kubeadm init read\n%s\nwant\n%s", got, want)
	}
	w.checkSecretModes(t)
	// kube-vip ran with super-admin.conf during init, admin.conf after.
	during := w.read(t, "vip-during-init")
	if want := string(kubeadm.SwapKubeconfig([]byte(manifest), kubeadm.AdminConfPath, kubeadm.SuperAdminConfPath)); during != want {
		t.Errorf("kube-vip during init:\n%s\nwant\n%s", during, want)
	}
	if !strings.Contains(during, "path: /etc/kubernetes/super-admin.conf\n") || !strings.Contains(during, "mountPath: /etc/kubernetes/admin.conf\n") {
		t.Errorf("swap changed the wrong lines:\n%s", during)
	}
	if got := scriptReadFile(t, filepath.Join(w.kubeDir("cp1"), "manifests", "kube-vip.yaml")); got != manifest {
		t.Errorf("kube-vip after init:\n%s\nwant\n%s", got, manifest)
	}
	// The API is checked through admin.conf after the manifest is restored.
	if j := kubeIndex(calls[i:], "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s get --raw=/readyz"); j < 0 {
		t.Errorf("API not checked after init: %q", calls[i:])
	}
}

func TestScriptKubeInit_NoVIPAndOldMinor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, version, vip string
		during             string // kubeconfig path kube-vip had during init, "" for none
	}{
		{"no VIP", "v1.35.2", "-", ""},
		{"1.28 keeps admin.conf", "v1.28.9", "vip", kubeadm.AdminConfPath},
		{"1.29 swaps", "v1.29.0", "vip", kubeadm.SuperAdminConfPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			manifest, vip := kubeVIP(t)
			if tc.vip == "-" {
				vip = "-"
			}
			res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_KUBEADM_VERSION="+tc.version), "kube-init.sh", "cp1", "-", vip, "30")
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			calls := w.callList(t)
			i := kubeIndex(calls, "kubeadm init ")
			if tc.during == "" {
				if strings.Contains(calls[i], "ignore-preflight") || w.has("vip-during-init") || w.nodeHas("cp1", "manifests/kube-vip.yaml") {
					t.Errorf("kube-vip handled without a VIP: %q", calls[i])
				}
				return
			}
			if got := w.read(t, "vip-during-init"); !strings.Contains(got, "path: "+tc.during+"\n") {
				t.Errorf("kube-vip during init does not mount %s:\n%s", tc.during, got)
			}
			if got := scriptReadFile(t, filepath.Join(w.kubeDir("cp1"), "manifests", "kube-vip.yaml")); got != manifest {
				t.Errorf("kube-vip after init differs from the manifest")
			}
		})
	}
}

func TestScriptKubeInit_RerunAfterSuccess(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	manifest := filepath.Join(w.kubeDir("cp1"), "manifests", "kube-vip.yaml")
	before, _ := os.Stat(manifest)
	_, vip := kubeVIP(t)
	time.Sleep(20 * time.Millisecond)
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.35", vip, "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != w.caHash+"\n" {
		t.Errorf("stdout = %q, want %q", res.stdout, w.caHash)
	}
	calls := w.callList(t)
	for _, c := range []string{"kubeadm init", "kubeadm reset"} {
		if kubeCount(calls, c) != 0 {
			t.Errorf("%s ran on an initialised cluster: %q", c, calls)
		}
	}
	if kubeIndex(calls, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s -n kube-public get configmap cluster-info -o name") < 0 {
		t.Errorf("cluster-info not checked: %q", calls)
	}
	after, _ := os.Stat(manifest)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the unchanged kube-vip manifest was rewritten (the kubelet would restart kube-vip)")
	}
	scriptMustContain(t, "stderr", res.stderr, "[cp1] state: the cluster is already initialised; nothing to do")
}

func TestScriptKubeInit_RerunAfterFailedInit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, fail, why string }{
		{"before admin.conf", "kubeconfig", "an earlier kubeadm init stopped before writing admin.conf"},
		{"API up, no cluster-info", "upload-config", "kubeadm init stopped before its bootstrap-token phase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			_, vip := kubeVIP(t)
			res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_INIT_FAIL="+tc.fail), "kube-init.sh", "cp1", "1.35", vip, "30")
			kubeExpectFailure(t, res, "cp1", "kubeadm init", "kubeadm init failed")
			res = w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.35", vip, "30")
			if res.code != 0 {
				t.Fatalf("re-run: exit %d", res.code)
			}
			calls := w.callList(t)
			r, i := kubeIndex(calls, "kubeadm reset -f"), kubeIndex(calls, "kubeadm init ")
			if r < 0 || i < r {
				t.Errorf("want kubeadm reset -f before kubeadm init: %q", calls)
			}
			scriptMustContain(t, "stderr", res.stderr, tc.why)
			if res.stdout != w.caHash+"\n" {
				t.Errorf("stdout = %q", res.stdout)
			}
		})
	}
}

func TestScriptKubeInit_AdminConfButAPIDown(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	if err := os.Remove(filepath.Join(w.cluster, "api")); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.35", "-", "2")
	kubeExpectFailure(t, res, "cp1", "state", "admin.conf exists but the API server did not answer within 2 s",
		"Nothing is reset automatically", "sudo kubeadm reset -f", "was refused")
	calls := w.callList(t)
	if kubeCount(calls, "kubeadm reset") != 0 || kubeCount(calls, "kubeadm init") != 0 {
		t.Errorf("a node whose API is down was reset or re-initialised: %q", calls)
	}
	if polls := kubeCount(calls, "kubectl "); polls < 2 {
		t.Errorf("the API was asked %d times, want polls until the timeout", polls)
	}
	if res.took > 10*time.Second {
		t.Errorf("took %v with a 2 s timeout", res.took)
	}
}

func TestScriptKubeInit_APIStartsLate(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	w.set(t, "api", "3")
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.35", "-", "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if n := kubeCount(w.callList(t), "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s get --raw=/readyz"); n != 5 {
		t.Errorf("readyz asked %d times, want 5 (3 refused, ok, ok after the kube-vip check)", n)
	}
}

func TestScriptKubeInit_FailureOutputRedacted(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_INIT_FAIL=wait-control-plane"), "kube-init.sh", "cp1", "1.35", "-", "30")
	kubeExpectFailure(t, res, "cp1", "kubeadm init", "[cp1] kubeadm init: failed: kubeadm init failed",
		"[cp1] kubeadm init:   | error execution phase wait-control-plane: couldn't initialize a Kubernetes cluster",
		"[cp1] kubeadm init:   | [kubelet-check] The kubelet is not healthy after 250s (line 25)")
	// kubeadm's verbose config dump (with token and key) is quoted redacted.
	scriptMustContain(t, "stderr", res.stderr, "[cp1] kubeadm init:   | I1130 11:00:00.000000    1234 initconfiguration.go:123] loaded config: bootstrapTokens: [{token: <redacted-token>}] certificateKey: <redacted-hex>")
	// Only the last 20 lines.
	if strings.Contains(res.stderr, "(line 8)") || !strings.Contains(res.stderr, "(line 9)") {
		t.Errorf("want exactly the last 20 lines of kubeadm's output:\n%s", res.stderr)
	}
	if w.nodeHas("cp1", "manifests/kube-vip.yaml") {
		t.Errorf("kube-vip manifest written without a VIP")
	}
}

func TestScriptKubeInit_VersionMismatch(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.34", "-", "30")
	kubeExpectFailure(t, res, "cp1", "version", "the node's kubeadm is v1.35.2 (Kubernetes 1.35) but the cluster must run 1.34",
		"change the nixpkgs pin in nixos/flake.nix (or nixlab:kubernetes.version)")
	calls := w.callList(t)
	if len(calls) != 1 || calls[0] != "kubeadm version -o short" {
		t.Errorf("calls = %q, want only the version query", calls)
	}
}

func TestScriptKubeInit_VersionMatchesMajorMinorOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"v1.35.0", "1.35", true},
		{"v1.35.2-rc.1+nixos", "1.35", true},
		{"v1.3.5", "1.35", false},
		{"v1.135.0", "1.35", false},
		{"v2.35.0", "1.35", false},
		{"1.35.0", "1.35", false},
		{"", "-", false},
	} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_KUBEADM_VERSION="+tc.have), "kube-init.sh", "cp1", tc.want, "-", "30")
		if tc.ok != (res.code == 0) {
			t.Errorf("kubeadm %q, want %q: exit %d", tc.have, tc.want, res.code)
		}
		if !tc.ok && tc.want == "-" {
			scriptMustContain(t, "stderr", res.stderr, "not vMAJOR.MINOR.PATCH")
		}
	}
}

func TestScriptKubeInit_Placeholder(t *testing.T) {
	t.Parallel()
	config := kubeInitConfig(t)
	for name, c := range map[string]string{
		"missing": strings.Replace(config, kubeadm.VersionPlaceholder, "v1.35.2", 1),
		"twice":   config + "# " + kubeadm.VersionPlaceholder + "\n",
		"empty":   " \n",
	} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", c, w.env("cp1"), "kube-init.sh", "cp1", "1.35", "-", "30")
		want := "must contain NIXLAB_KUBEADM_VERSION exactly once"
		if name == "empty" {
			want = "nothing on stdin"
		}
		kubeExpectFailure(t, res, "cp1", "config", want)
		if kubeCount(w.callList(t), "kubeadm init") != 0 {
			t.Errorf("%s: kubeadm init ran", name)
		}
	}
}

func TestScriptKubeInit_InvalidArgs(t *testing.T) {
	t.Parallel()
	_, vip := kubeVIP(t)
	noAdmin := base64.StdEncoding.EncodeToString([]byte("kind: Pod\n"))
	for _, args := range [][]string{
		nil,
		{"cp1", "1.35", "-"},
		{"cp1", "1.35", "-", "30", "x"},
		{"-cp1", "1.35", "-", "30"},
		{"cp1;x", "1.35", "-", "30"},
		{"cp1", "1", "-", "30"},
		{"cp1", "v1.35", "-", "30"},
		{"cp1", "1.35", "-", "0"},
		{"cp1", "1.35", "-", "3s"},
		{"cp1", "1.35", "%%%", "30"},
		{"cp1", "1.35", noAdmin, "30"},
		{"cp1", "1.35", vip, ""},
	} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", args...)
		w.kubeUsage(t, res, "kube-init", args)
	}
}

func TestScriptKubeInit_SecretFileFailures(t *testing.T) {
	t.Parallel()
	kubeSecretFileFailures(t, "cp1", "kube-init.sh", "config", func(*kubeWorld) string { return kubeInitConfig(t) }, "cp1", "1.35", "-", "30")
}

func TestScriptKubeInit_ClusterInfoUnreadable(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_KUBECTL_FAIL=cluster-info"), "kube-init.sh", "cp1", "1.35", "-", "30")
	kubeExpectFailure(t, res, "cp1", "state", "cannot read ConfigMap kube-public/cluster-info", "Error from server (InternalError)")
	if calls := w.callList(t); kubeCount(calls, "kubeadm reset") != 0 || kubeCount(calls, "kubeadm init") != 0 {
		t.Errorf("reset or init after an unreadable cluster-info: %q", calls)
	}
}

func TestScriptKubeInit_KubeadmMissing(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_KUBEADM_FAIL=version"), "kube-init.sh", "cp1", "-", "-", "30")
	kubeExpectFailure(t, res, "cp1", "version", "cannot run 'kubeadm version -o short': is pkgs.kubernetes in the node image?")
}

func TestScriptKubeInit_AfterInitFailures(t *testing.T) {
	t.Parallel()
	// The API does not come back through the endpoint after init (kube-vip
	// restarted with admin.conf and never took the VIP).
	w := newKubeWorld(t)
	w.set(t, "api", "100000")
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.35", "-", "2")
	kubeExpectFailure(t, res, "cp1", "api", "the API server did not answer through "+w.kubeDir("cp1")+"/admin.conf (the control-plane endpoint) within 2 s", "was refused")
	// ca.crt is not a certificate: no hash is printed.
	w = newKubeWorld(t)
	bad := filepath.Join(w.dir, "bad.crt")
	scriptWriteFile(t, bad, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
	res = w.run(t, "cp1", kubeInitConfig(t), w.env("cp1", "FAKE_CA_CRT="+bad), "kube-init.sh", "cp1", "1.35", "-", "30")
	kubeExpectFailure(t, res, "cp1", "ca hash", "cannot compute the CA certificate hash of "+w.kubeDir("cp1")+"/pki/ca.crt")
}
