package components_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScriptKubePrepare_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-prepare.sh")
}

// prepare runs kube-prepare.sh on cp1 for a node joining as role.
func (w *kubeWorld) prepare(t *testing.T, node, role string, extra ...string) scriptResult {
	t.Helper()
	return w.run(t, "cp1", kubeTokenConfig(t), w.env("cp1", extra...), "kube-prepare.sh", node, role, "30")
}

func TestScriptKubePrepare_TokenAndCertsValid(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.prepare(t, "cp2", "control-plane")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q", res.stdout)
	}
	kubeCheckProgress(t, res.stderr)
	calls := w.callList(t)
	if kubeCount(calls, "kubeadm token") != 0 {
		t.Errorf("a valid token was replaced: %q", calls)
	}
	if kubeIndex(calls, "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s -n kube-system get secret bootstrap-token-q7x2ab --ignore-not-found") < 0 {
		t.Errorf("the token Secret was not read: %q", calls)
	}
	// Certificates are uploaded before every control-plane join.
	up := kubeIndex(calls, "kubeadm init phase upload-certs --upload-certs --config "+w.runDir("cp1")+"/nixlab-kube.")
	if up < 0 || !strings.HasPrefix(calls[up-1], "sudo -n timeout --kill-after=10 30 kubeadm init phase upload-certs") {
		t.Errorf("no bounded upload-certs as root: %q", calls)
	}
	w.checkSecretModes(t)
	scriptMustContain(t, "stderr", res.stderr, "[cp2] token: bootstrap token q7x2ab is valid (", "[cp2] ready: ready to join as a control-plane")
}

func TestScriptKubePrepare_WorkerUploadsNoCerts(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.prepare(t, "w1", "worker")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if calls := w.callList(t); kubeCount(calls, "kubeadm init phase") != 0 {
		t.Errorf("certificates uploaded for a worker: %q", calls)
	}
}

func TestScriptKubePrepare_Token(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		state   string // the token Secret: "" missing, else the fake's content
		replace bool   // deleted and created again
		create  bool
	}{
		{name: "missing", create: true},
		{name: "expired", state: kubeToken + " " + kubeExpiry(-time.Hour), replace: true, create: true},
		{name: "expires during the join", state: kubeToken + " " + kubeExpiry(80*time.Second), replace: true, create: true},
		{name: "valid long enough", state: kubeToken + " " + kubeExpiry(100*time.Second)},
		{name: "never expires", state: kubeToken + " never"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			w.initCluster(t)
			if tc.state == "" {
				if err := os.Remove(filepath.Join(w.cluster, "tokens", "q7x2ab")); err != nil {
					t.Fatal(err)
				}
			} else {
				w.set(t, "tokens/q7x2ab", tc.state+"\n")
			}
			res := w.prepare(t, "w1", "worker")
			if res.code != 0 {
				t.Fatalf("exit %d", res.code)
			}
			calls := w.callList(t)
			del, create := kubeIndex(calls, "kubeadm token delete q7x2ab"), kubeIndex(calls, "kubeadm token create --config "+w.runDir("cp1")+"/nixlab-kube.")
			if (del >= 0) != tc.replace || (create >= 0) != tc.create || (tc.replace && create < del) {
				t.Errorf("delete at %d, create at %d; want delete %v then create %v: %q", del, create, tc.replace, tc.create, calls)
			}
			if tc.create {
				fields := strings.Fields(w.read(t, "tokens/q7x2ab"))
				if len(fields) != 2 || fields[0] != kubeToken || fields[1] <= kubeExpiry(23*time.Hour) {
					t.Errorf("token after prepare: %q, want the config's token for 24 h", fields)
				}
			}
			// The joining node gets in.
			w.joinNode(t, "w1", false)
		})
	}
}

func TestScriptKubePrepare_ExpiredCertificates(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	w.set(t, "certs", kubeCertKey+" "+kubeExpiry(-time.Minute)+"\n")
	// Without prepare the control-plane join fails the way kubeadm does.
	res := w.run(t, "cp2", w.joinConfig(t, "cp2", true), w.env("cp2"), "kube-join.sh", "cp2", "control-plane", "1.35", "-", "30")
	kubeExpectFailure(t, res, "cp2", "kubeadm join", `Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired.`)
	res = w.prepare(t, "cp2", "control-plane")
	if res.code != 0 {
		t.Fatalf("prepare: exit %d", res.code)
	}
	scriptMustContain(t, "stderr", res.stderr, "[cp2] certificates: uploading the control-plane certificates")
	// The failed attempt left files: the join resets and joins.
	w.joinNode(t, "cp2", true)
	if got := w.read(t, "nodes/cp2"); got != "control-plane\n" {
		t.Errorf("node cp2 = %q", got)
	}
}

func TestScriptKubePrepare_FailuresRedacted(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.prepare(t, "cp2", "control-plane", "FAKE_UPLOAD_FAIL=1")
	kubeExpectFailure(t, res, "cp2", "certificates", "kubeadm init phase upload-certs failed",
		"[cp2] certificates:   | [upload-certs] Using certificate key:", "[cp2] certificates:   | <redacted-hex>",
		"error uploading certs: etcdserver: request timed out")
}

func TestScriptKubePrepare_ConfigTokens(t *testing.T) {
	t.Parallel()
	config := kubeTokenConfig(t)
	for name, tc := range map[string]struct{ stdin, want string }{
		"no token":  {strings.ReplaceAll(config, kubeToken, "not-a-token"), "the config holds no bootstrap token"},
		"two":       {config + "# abcdef.0123456789abcdef\n", "the config holds more than one bootstrap token"},
		"empty":     {"", "nothing on stdin: the kubeadm TokenConfig expected"},
		"too long":  {strings.ReplaceAll(config, kubeToken, kubeToken+"x"), "the config holds no bootstrap token"},
		"uppercase": {strings.ReplaceAll(config, kubeToken, strings.ToUpper(kubeToken)), "the config holds no bootstrap token"},
	} {
		w := newKubeWorld(t)
		w.set(t, "api", "")
		res := w.run(t, "cp1", tc.stdin, w.env("cp1"), "kube-prepare.sh", "w1", "worker", "30")
		kubeExpectFailure(t, res, "w1", "config", tc.want)
		if calls := w.callList(t); len(calls) != 0 {
			t.Errorf("%s: commands ran: %q", name, calls)
		}
	}
	// The same token twice is one token.
	w := newKubeWorld(t)
	w.initCluster(t)
	res := w.run(t, "cp1", config+"# "+kubeToken+"\n", w.env("cp1"), "kube-prepare.sh", "w1", "worker", "30")
	if res.code != 0 {
		t.Errorf("a config naming its token twice: exit %d", res.code)
	}
}

func TestScriptKubePrepare_APIDown(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "cp1", kubeTokenConfig(t), w.env("cp1"), "kube-prepare.sh", "w1", "worker", "2")
	kubeExpectFailure(t, res, "w1", "api", "the API server did not answer through "+w.kubeDir("cp1")+"/admin.conf within 2 s")
	if calls := w.callList(t); kubeCount(calls, "kubeadm") != 0 || kubeCount(calls, "kubectl") < 2 {
		t.Errorf("want only polls of the API: %q", calls)
	}
	if res.took > 10*time.Second {
		t.Errorf("took %v with a 2 s timeout", res.took)
	}
}

func TestScriptKubePrepare_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil,
		{"w1", "worker"},
		{"w1", "worker", "30", "x"},
		{"w1", "workers", "30"},
		{".w1", "worker", "30"},
		{"w1", "worker", "030"},
	} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", kubeTokenConfig(t), w.env("cp1"), "kube-prepare.sh", args...)
		w.kubeUsage(t, res, "kube-prepare", args)
	}
}

func TestScriptKubePrepare_SecretFileFailures(t *testing.T) {
	t.Parallel()
	kubeSecretFileFailures(t, "cp1", "kube-prepare.sh", "config", func(*kubeWorld) string { return kubeTokenConfig(t) }, "w1", "worker", "30")
}

func TestScriptKubePrepare_ToolFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env, phase, want string
		expired          bool
	}{
		{"FAKE_KUBECTL_FAIL=get secret", "token", "cannot read Secret kube-system/bootstrap-token-q7x2ab", false},
		{"FAKE_KUBEADM_FAIL=token delete", "token", "kubeadm token delete q7x2ab failed", true},
		{"FAKE_KUBEADM_FAIL=token create", "token", "kubeadm token create failed", true},
	} {
		w := newKubeWorld(t)
		w.initCluster(t)
		if tc.expired {
			w.set(t, "tokens/q7x2ab", kubeToken+" "+kubeExpiry(-time.Hour)+"\n")
		}
		res := w.prepare(t, "cp2", "control-plane", tc.env)
		kubeExpectFailure(t, res, "cp2", tc.phase, tc.want)
		if kubeCount(w.callList(t), "kubeadm init phase") != 0 {
			t.Errorf("%s: certificates uploaded after a token failure", tc.env)
		}
	}
}

func TestScriptKubePrepare_UnreadableExpiration(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	// A Secret whose expiration is not a time.
	w.set(t, "tokens/q7x2ab", kubeToken+" tomorrow-ish\n")
	res := w.prepare(t, "w1", "worker")
	kubeExpectFailure(t, res, "w1", "token", "Secret kube-system/bootstrap-token-q7x2ab: cannot read the expiration time 'tomorrow-ish'")
	if calls := w.callList(t); kubeCount(calls, "kubeadm token") != 0 {
		t.Errorf("token replaced although its expiry is unknown: %q", calls)
	}
}
