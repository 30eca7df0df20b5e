package components_test

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScriptKubeLeave_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-leave.sh")
}

func TestScriptKubeLeave_Resets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
		note string
	}{
		{"kubelet stopped", nil, "[w1] kubelet: kubelet stopped"},
		{"kubelet unit missing", []string{"FAKE_SYSTEMCTL_FAIL=1"}, "[w1] kubelet: could not stop the kubelet (continuing: kubeadm reset stops it too)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			w.initCluster(t)
			w.joinNode(t, "w1", false)
			res := w.run(t, "w1", "", w.env("w1", tc.env...), "kube-leave.sh", "w1", "worker")
			if res.code != 0 || res.stdout != "" {
				t.Fatalf("exit %d, stdout %q", res.code, res.stdout)
			}
			kubeCheckProgress(t, res.stderr)
			scriptMustContain(t, "stderr", res.stderr, tc.note, "[w1] reset: node reset")
			calls := w.callList(t)
			s, r := kubeIndex(calls, "sudo -n systemctl stop kubelet"), kubeIndex(calls, "sudo -n timeout --kill-after=30 600 kubeadm reset -f")
			if s < 0 || r < s {
				t.Errorf("want systemctl stop kubelet, then a bounded kubeadm reset -f as root: %q", calls)
			}
			if w.nodeHas("w1", "kubelet.conf") || w.nodeHas("w1", "pki/ca.crt") {
				t.Errorf("node files left after the reset")
			}
		})
	}
}

func TestScriptKubeLeave_ControlPlaneRemovesEtcdMember(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	w.joinNode(t, "cp2", true)
	res := w.run(t, "cp2", "", w.env("cp2"), "kube-leave.sh", "cp2", "control-plane")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if w.has("etcd/cp2") || !w.has("etcd/cp1") {
		t.Errorf("want cp2's etcd member gone, cp1's kept")
	}
	scriptMustContain(t, "stderr", res.stderr, "[cp2] reset: running kubeadm reset -f on the control-plane")
}

func TestScriptKubeLeave_ResetFails(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	res := w.run(t, "w1", "", w.env("w1", "FAKE_RESET_FAIL=1"), "kube-leave.sh", "w1", "worker")
	kubeExpectFailure(t, res, "w1", "reset", "[w1] reset: failed: kubeadm reset -f failed", "[w1] reset:   | [reset] failed to remove containers: context deadline exceeded")
}

func TestScriptKubeLeave_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"w1"}, {"w1", "worker", "x"}, {"w1", "Worker"}, {"w1*", "worker"}} {
		w := newKubeWorld(t)
		res := w.run(t, "w1", "", w.env("w1"), "kube-leave.sh", args...)
		w.kubeUsage(t, res, "kube-leave", args)
	}
}

// TestScriptKubeLeave_OtherHost: the delete of a join step reaches the
// address the node had when it joined; when that address now belongs to
// another machine (a DHCP lease moved), nothing is reset there.
func TestScriptKubeLeave_OtherHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, hostname string
		resets         bool
	}{
		{"another node", "w2", false},
		{"same name, other case", "W1", true},
		{"first label of a dotted name", "w1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			w.initCluster(t)
			w.joinNode(t, "w1", false)
			node := "w1"
			if tc.name == "first label of a dotted name" {
				node = "w1.lab.example"
			}
			env := w.env("w1")
			proc := t.TempDir()
			if err := os.MkdirAll(filepath.Join(proc, "sys/kernel"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(proc, "sys/kernel/hostname"), []byte(tc.hostname+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			env = append(env, "NIXLAB_PROC_ROOT="+proc)
			res := w.run(t, "w1", "", env, "kube-leave.sh", node, "worker")
			if res.code != 0 || res.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
			}
			reset := kubeIndex(w.callList(t), "sudo -n timeout --kill-after=30 600 kubeadm reset -f") >= 0
			if reset != tc.resets {
				t.Errorf("reset ran: %v, want %v (stderr %s)", reset, tc.resets, res.stderr)
			}
			if !tc.resets {
				scriptMustContain(t, "stderr", res.stderr, "this host is 'w2', not w1", "nothing reset here")
				if !w.nodeHas("w1", "kubelet.conf") {
					t.Error("the other host's files were touched")
				}
			}
		})
	}
}

// TestScriptKubeLeave_NoHostname: a host whose hostname cannot be read is
// not reset (the script cannot tell it is the node).
func TestScriptKubeLeave_NoHostname(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	env := append(w.env("w1"), "NIXLAB_PROC_ROOT="+t.TempDir())
	res := w.run(t, "w1", "", env, "kube-leave.sh", "w1", "worker")
	kubeExpectFailure(t, res, "w1", "identity", "[w1] identity: failed: cannot read the hostname from")
	if kubeIndex(w.callList(t), "kubeadm reset") >= 0 {
		t.Error("reset ran on a host that could not be identified")
	}
}
