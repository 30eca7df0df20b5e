package components_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

func TestScriptKubeKubeconfig_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "kube-kubeconfig.sh")
}

func TestScriptKubeKubeconfig_PrintsAdminConf(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	w.set(t, "api", "2")
	res := w.run(t, "cp1", "", w.env("cp1"), "kube-kubeconfig.sh", "cp1", "30")
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	if want := scriptReadFile(t, filepath.Join(w.kubeDir("cp1"), "admin.conf")); res.stdout != want {
		t.Errorf("stdout = %q, want admin.conf %q", res.stdout, want)
	}
	calls := w.callList(t)
	if kubeIndex(calls, "sudo -n cat "+w.kubeDir("cp1")+"/admin.conf") < 0 {
		t.Errorf("admin.conf not read as root: %q", calls)
	}
	if n := kubeCount(calls, "kubectl "); n != 3 {
		t.Errorf("%d API polls, want 3 (2 refused)", n)
	}
	kubeCheckProgress(t, res.stderr)
}

func TestScriptKubeKubeconfig_APIDown(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	if err := os.Remove(filepath.Join(w.cluster, "api")); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, "cp1", "", w.env("cp1"), "kube-kubeconfig.sh", "cp1", "2")
	kubeExpectFailure(t, res, "cp1", "api", "the API server did not answer", "[cp1] api:   | The connection to the server 10.0.0.100:6443 was refused")
	if res.took > 10*time.Second {
		t.Errorf("took %v with a 2 s timeout", res.took)
	}
}

func TestScriptKubeKubeconfig_Unreadable(t *testing.T) {
	t.Parallel()
	w := newKubeWorld(t)
	w.initCluster(t)
	// cat cannot read admin.conf (kubectl, reading it in-process, could).
	realCat := testutil.RequireTool(t, "cat")
	testutil.WriteFake(t, w.bin, "cat", fmt.Sprintf("if [[ \"$*\" == *admin.conf ]]; then echo \"cat: $1: Permission denied\" >&2; exit 1; fi\nexec %q \"$@\"\n", realCat))
	res := w.run(t, "cp1", "", w.env("cp1"), "kube-kubeconfig.sh", "cp1", "5")
	kubeExpectFailure(t, res, "cp1", "kubeconfig", "cannot read "+w.kubeDir("cp1")+"/admin.conf")
}

func TestScriptKubeKubeconfig_InvalidArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"cp1"}, {"cp1", "0"}, {"", "30"}, {"cp1", "30", "x"}} {
		w := newKubeWorld(t)
		res := w.run(t, "cp1", "", w.env("cp1"), "kube-kubeconfig.sh", args...)
		w.kubeUsage(t, res, "kube-kubeconfig", args)
	}
}
