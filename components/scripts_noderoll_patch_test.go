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

// A patch downgrade is refused like a minor one: the cluster (or the
// node's kubelet) already runs the newer patch, and kubeadm-config keeps it.
func TestScriptNodeRoll_PatchDowngradeRefused(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	w.setCluster(t, "version", "v1.35.4")
	d := w.system(t, "d", "v1.35.1", "6.6.1", "257.1")
	res := w.run(t, w.env("cp1", d))
	rollExpect(t, res, 1, "", "refused", "v1.35.4", "v1.35.1", "downgrade", "Nothing was changed")
	rollNone(t, w.callList(t), "annotate", "cordon", "drain", "nix --extra", "nix-env", "switch-to-configuration", "upgrade")
	if got := w.linked(t, "cp1", "run/current-system"); got != a {
		t.Errorf("cp1 runs %s", got)
	}
}

// A node already on the target system whose kubeadm upgrade never ran (a
// control plane cloned or switched before the cluster was upgraded, or an
// interrupted roll) is not skipped: drained, upgraded, checked, uncordoned,
// without a copy or a switch. A worker on the target while the cluster is
// still behind (every control plane held) is skipped, not refused.
func TestScriptNodeRoll_PendingUpgradeOnTarget(t *testing.T) {
	t.Parallel()
	t.Run("first control plane applies", func(t *testing.T) {
		w, _ := rollLab(t)
		u := w.system(t, "u", "v1.35.4", "6.6.1", "257.1")
		w.install(t, "cp1", u)
		for _, l := range []string{"run/current-system", "run/booted-system", "nix/var/nix/profiles/system"} {
			w.link(t, "cp1", l, u)
		}
		res := w.run(t, w.env("cp1", u))
		rollExpect(t, res, 0, u+"\n", "[cp1] already on "+u+", but its kubeadm upgrade is pending", "[cp1] healthy, uncordoned")
		calls := w.callList(t)
		rollOrder(t, calls, "drain cp1", rollCP1+": kubeadm(v1.35.4) upgrade apply -y v1.35.4", "uncordon cp1")
		rollNone(t, calls, "nix --extra", "nix-env", "switch-to-configuration")
		if v := strings.TrimSpace(scriptReadFile(t, filepath.Join(w.cluster, "version"))); v != "v1.35.4" {
			t.Errorf("cluster version %s", v)
		}
	})
	t.Run("worker ahead of a held control plane is skipped", func(t *testing.T) {
		w, _ := rollLab(t)
		u := w.system(t, "u", "v1.35.4", "6.6.1", "257.1")
		w.install(t, "w1", u)
		for _, l := range []string{"run/current-system", "run/booted-system", "nix/var/nix/profiles/system"} {
			w.link(t, "w1", l, u)
		}
		res := w.run(t, w.env("w1", u))
		rollExpect(t, res, 0, u+"\n", "[w1] already on "+u+", skipped")
		rollNone(t, w.callList(t), "cordon", "drain", "upgrade", "switch-to-configuration")
	})
}
