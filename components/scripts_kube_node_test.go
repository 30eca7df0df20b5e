package components_test

import (
	"strings"
	"testing"
	"time"
)

func TestScriptKubeNode_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-node.sh")
}

func TestScriptKubeNode_Registration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		later   string // requests before the Node appears; "" for never
		timeout string
		ok      bool
	}{
		{"registered", "0", "30", true},
		{"registers after 3 polls", "3", "30", true},
		{"never", "", "2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKubeWorld(t)
			w.set(t, "api", "")
			w.nodeFile(t, "cp1", "admin.conf", "kind: Config\n")
			if tc.later != "" {
				w.set(t, "nodes/w1", "worker\n")
				w.set(t, "nodes/w1.later", tc.later+"\n")
			}
			res := w.run(t, "cp1", "", w.env("cp1"), "kube-node.sh", "w1", tc.timeout)
			polls := kubeCount(w.callList(t), "kubectl --kubeconfig "+w.kubeDir("cp1")+"/admin.conf --request-timeout=30s get node w1 -o name")
			if !tc.ok {
				kubeExpectFailure(t, res, "w1", "registration", "node w1 did not register within 2 s", `Error from server (NotFound): nodes "w1" not found`)
				if polls < 2 || res.took > 10*time.Second {
					t.Errorf("%d polls in %v, want several within the 2 s timeout", polls, res.took)
				}
				return
			}
			if res.code != 0 || res.stdout != "" {
				t.Fatalf("exit %d, stdout %q", res.code, res.stdout)
			}
			if want := 1; tc.later == "3" {
				want = 4
				if polls != want {
					t.Errorf("%d polls, want %d", polls, want)
				}
			} else if polls != want {
				t.Errorf("%d polls, want %d", polls, want)
			}
			kubeCheckProgress(t, res.stderr)
			scriptMustContain(t, "stderr", res.stderr, "[w1] registration: registered")
		})
	}
}

func TestScriptKubeNode_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"w1"}, {"w1", "30", "x"}, {"w1/x", "30"}, {"w1", "a"}} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", "", w.env("cp1"), "kube-node.sh", args...)
		w.kubeUsage(t, res, "kube-node", args)
		if strings.Contains(res.stderr, "[") {
			t.Errorf("progress printed for invalid args: %q", res.stderr)
		}
	}
}
