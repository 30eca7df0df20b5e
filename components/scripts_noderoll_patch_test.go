package components_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// A patch release (v1.35.2 -> v1.35.4) is an upgrade too: the control
// plane's static pods follow kubeadm-config's kubernetesVersion, which only
// `kubeadm upgrade apply` rewrites (v1.35.4 cmd/kubeadm/app/cmd/phases/
// upgrade/apply/uploadconfig.go; phases/upgrade/policy.go allows patch
// upgrades), so the first control plane applies it and every other node
// runs `upgrade node`; a system of the cluster's own version upgrades
// nothing, and no node but the first runs ahead of the cluster's patch.
func TestScriptNodeRoll_PatchUpgrade(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, node, cluster, target string
		code                        int
		calls                       []string // in order
		none                        []string
		stderr                      string
	}{
		{name: "first control plane applies the patch", node: "cp1", cluster: "v1.35.2", target: "v1.35.4",
			calls: []string{"drain cp1", rollCP1 + ": kubeadm(v1.35.4) upgrade apply -y v1.35.4", "switch-to-configuration"},
			none:  []string{"upgrade node"}, stderr: "[cp1] upgrading Kubernetes to v1.35.4 (kubeadm upgrade apply)"},
		{name: "a worker follows with upgrade node", node: "w1", cluster: "v1.35.4", target: "v1.35.4",
			calls: []string{"drain w1", rollW1 + ": kubeadm(v1.35.4) upgrade node", "switch-to-configuration"},
			none:  []string{"upgrade apply"}, stderr: "[w1] upgrading Kubernetes to v1.35.4 (kubeadm upgrade node)"},
		{name: "same version: no kubeadm", node: "cp1", cluster: "v1.35.2", target: "v1.35.2",
			calls: []string{"drain cp1", "switch-to-configuration"}, none: []string{"upgrade apply", "upgrade node"}},
		{name: "a worker ahead of the cluster's patch", node: "w1", cluster: "v1.35.2", target: "v1.35.4", code: 1,
			none: []string{"cordon", "drain", "upgrade", "switch-to-configuration"}, stderr: "the first control plane must run 'kubeadm upgrade apply' first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, a := rollLab(t)
			w.setCluster(t, "version", c.cluster)
			u := w.system(t, "u", c.target, "6.6.1", "257.1")
			res := w.run(t, w.env(c.node, u))
			want := u + "\n"
			if c.code != 0 {
				want = ""
			}
			rollExpect(t, res, c.code, want, c.stderr)
			calls := w.callList(t)
			if len(c.calls) > 0 {
				rollOrder(t, calls, c.calls...)
			}
			rollNone(t, calls, c.none...)
			if c.code != 0 {
				if got := w.linked(t, c.node, "run/current-system"); got != a {
					t.Errorf("%s runs %s after a refusal", c.node, got)
				}
			}
			if c.node == "cp1" && c.code == 0 && strings.Contains(c.stderr, "apply") {
				if v := strings.TrimSpace(scriptReadFile(t, filepath.Join(w.cluster, "version"))); v != c.target {
					t.Errorf("cluster version %s after upgrade apply, want %s", v, c.target)
				}
			}
		})
	}
}
