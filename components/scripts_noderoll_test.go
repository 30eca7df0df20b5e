package components_test

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/testutil"
)

// rollKeyBody is the secret part of the fake stack key: it must never show
// up in an argument, on stdout or on stderr.
const rollKeyBody = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDsecretrollkeymaterial"

const rollKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + rollKeyBody + "\n-----END OPENSSH PRIVATE KEY-----\n"

// The lab every roll test uses: two control planes and a worker.
const (
	rollCP1 = "10.0.0.11"
	rollCP2 = "10.0.0.12"
	rollW1  = "10.0.0.21"
)

// rollWorld is the fake lab of scripts_noderoll_fakes_test.go.
type rollWorld struct {
	dir, bin, nodeBin, tools, local, hosts, cluster, calls, argv, tmp string
	target                                                            string            // a test's target system, for table setups
	addr                                                              map[string]string // node name -> address
	role                                                              map[string]string
}

func newRollWorld(t *testing.T) *rollWorld {
	t.Helper()
	dir := t.TempDir()
	w := &rollWorld{
		dir: dir, bin: filepath.Join(dir, "bin"), nodeBin: filepath.Join(dir, "node-bin"),
		local: filepath.Join(dir, "local"), hosts: filepath.Join(dir, "hosts"),
		cluster: filepath.Join(dir, "cluster"), calls: filepath.Join(dir, "calls"),
		argv: filepath.Join(dir, "argv"), tmp: filepath.Join(dir, "tmp"),
		addr: map[string]string{}, role: map[string]string{},
	}
	for _, d := range []string{w.bin, w.nodeBin, filepath.Join(w.local, "nix/store"), w.hosts, filepath.Join(w.cluster, "nodes"), filepath.Join(w.cluster, "pods"), w.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Only these tools exist, here and on the nodes: the script must need
	// nothing else.
	w.tools = scriptToolDir(t, "bash", "mktemp", "rm", "cat", "grep", "sed", "tr", "tail", "sleep", "readlink", "timeout",
		// for the fakes only:
		"stat", "cp", "ln", "head", "basename", "dirname", "touch")
	testutil.WriteFake(t, w.bin, "ssh", rollFakeSSH)
	testutil.WriteFake(t, w.bin, "nix", rollFakeNix)
	testutil.WriteFake(t, w.nodeBin, "sudo", rollFakeSudo)
	testutil.WriteFake(t, w.nodeBin, "nix-env", rollFakeNixEnv)
	testutil.WriteFake(t, w.nodeBin, "systemd-run", rollFakeSystemdRun)
	testutil.WriteFake(t, w.nodeBin, "systemctl", rollFakeSystemctl)
	testutil.WriteFake(t, w.nodeBin, "kubectl", rollFakeKubectl)
	w.setCluster(t, "version", "v1.35.2")
	return w
}

// rollHash is a fake 32-character nix store hash (nix base32: no e o u t).
func rollHash(name string) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	sum := sha256.Sum256([]byte(name))
	b := make([]byte, 32)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(b)
}

// system builds a fake NixOS system in the local store and returns its
// store path: kernel, initrd, kernel-modules and systemd links to their own
// store paths (as nixpkgs top-level.nix makes them), bin/switch-to-
// configuration, sw/bin/kubeadm at version k8s, and its closure list.
func (w *rollWorld) system(t *testing.T, label, k8s, kernel, systemd string) string {
	t.Helper()
	store := filepath.Join(w.local, "nix/store")
	parts := map[string][2]string{ // link -> store dir, file inside
		"kernel":         {rollHash("linux"+kernel) + "-linux-" + kernel, "bzImage"},
		"initrd":         {rollHash("initrd"+kernel) + "-initrd-linux-" + kernel, "initrd"},
		"kernel-modules": {rollHash("modules"+kernel) + "-linux-" + kernel + "-modules", ""},
		"systemd":        {rollHash("systemd"+systemd) + "-systemd-" + systemd, ""},
	}
	name := rollHash("system"+label+k8s+kernel+systemd) + "-nixos-system-lab-" + label
	sys := filepath.Join(store, name)
	closure := []string{name}
	for link, p := range parts {
		scriptWriteFile(t, filepath.Join(store, p[0], "nix-support/marker"), p[0]+"\n")
		target := "../" + p[0]
		if p[1] != "" {
			scriptWriteFile(t, filepath.Join(store, p[0], p[1]), "image\n")
			target += "/" + p[1]
		}
		if err := os.MkdirAll(sys, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(filepath.Join(sys, link))
		if err := os.Symlink(target, filepath.Join(sys, link)); err != nil {
			t.Fatal(err)
		}
		closure = append(closure, p[0])
	}
	slices.Sort(closure[1:])
	scriptWriteFile(t, filepath.Join(sys, "k8s-version"), k8s+"\n")
	scriptWriteFile(t, filepath.Join(sys, "closure"), strings.Join(closure, "\n")+"\n")
	for _, d := range []string{"bin", "sw/bin"} {
		if err := os.MkdirAll(filepath.Join(sys, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WriteFake(t, filepath.Join(sys, "bin"), "switch-to-configuration", rollFakeSwitch)
	testutil.WriteFake(t, filepath.Join(sys, "sw/bin"), "kubeadm", rollFakeKubeadm)
	return "/nix/store/" + name
}

// root is a node's root directory.
func (w *rollWorld) root(node string) string { return filepath.Join(w.hosts, w.addr[node]) }

// node adds a node running (and booted into) system, registered in the
// cluster with role.
func (w *rollWorld) node(t *testing.T, name, addr, role, system string) {
	t.Helper()
	w.addr[name] = addr
	w.role[name] = role
	root := w.root(name)
	for _, d := range []string{"nix/store", "run", "nix/var/nix/profiles"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.install(t, name, system)
	for _, l := range []string{"run/current-system", "run/booted-system", "nix/var/nix/profiles/system"} {
		w.link(t, name, l, system)
	}
	scriptWriteFile(t, filepath.Join(w.cluster, "nodes", name, "host"), addr+"\n")
	scriptWriteFile(t, filepath.Join(w.cluster, "nodes", name, "role"), role+"\n")
}

// install copies system's closure into node's store.
func (w *rollWorld) install(t *testing.T, node, system string) {
	t.Helper()
	src := filepath.Join(w.local, system)
	for _, b := range strings.Fields(scriptReadFile(t, filepath.Join(src, "closure"))) {
		dst := filepath.Join(w.root(node), "nix/store", b)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(w.local, "nix/store", b), dst).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
	}
}

// link points node's link (relative to its root) at a store path.
func (w *rollWorld) link(t *testing.T, node, link, system string) {
	t.Helper()
	p := filepath.Join(w.root(node), link)
	_ = os.Remove(p)
	if err := os.Symlink(filepath.Join(w.root(node), system), p); err != nil {
		t.Fatal(err)
	}
}

// linked returns the store path node's link points at.
func (w *rollWorld) linked(t *testing.T, node, link string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(w.root(node), link))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(target, w.root(node))
}

// nodeFile writes a file into node's root.
func (w *rollWorld) nodeFile(t *testing.T, node, name, content string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(w.root(node), name), content)
}

func (w *rollWorld) setCluster(t *testing.T, name, content string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(w.cluster, name), content)
}

func (w *rollWorld) clusterHas(name string) bool {
	_, err := os.Stat(filepath.Join(w.cluster, name))
	return err == nil
}

// env is the environment of a roll of node to target: every NIXLAB_*
// variable valid, then the overrides ("NAME=value", or "NAME" to unset).
func (w *rollWorld) env(node, target string, overrides ...string) []string {
	upgradeRole := "other"
	if node == "cp1" {
		upgradeRole = "first"
	}
	vars := map[string]string{
		"NIXLAB_NODE": node, "NIXLAB_NODE_HOST": w.addr[node], "NIXLAB_NODE_USER": "admin", "NIXLAB_ADMIN_USER": "admin",
		"NIXLAB_ROLE": w.role[node], "NIXLAB_UPGRADE_ROLE": upgradeRole, "NIXLAB_SYSTEM": target,
		"NIXLAB_KUBERNETES": "yes", "NIXLAB_KUBE_HOSTS": "admin@" + rollCP1 + " admin@" + rollCP2,
		"NIXLAB_KUBE_VERSION": "1.35", "NIXLAB_DRAIN_TIMEOUT": "120", "NIXLAB_HEALTH_TIMEOUT": "2",
		"NIXLAB_ROLLBACK": "yes", "NIXLAB_READY_SCRIPT": rollReadyScript,
		"NIXLAB_READY_ARGS": node + " - no 600", "NIXLAB_POLL_SECONDS": "0.1",
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			delete(vars, k)
			continue
		}
		vars[k] = v
	}
	env := []string{
		"PATH=" + w.bin + string(os.PathListSeparator) + w.tools,
		"HOME=" + w.dir, "TMPDIR=" + w.tmp,
		"NIXLAB_ROOT=" + w.local,
		"FAKE_CALLS=" + w.calls, "FAKE_ARGV=" + w.argv, "FAKE_WORLD=" + w.dir,
		"FAKE_NODE_BIN=" + w.nodeBin, "FAKE_TOOLS=" + w.tools,
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// run runs node-roll.sh the component's way (`bash -c '<text>' node-roll`,
// the key on stdin) and checks that the key went nowhere and its temporary
// directory is gone.
func (w *rollWorld) run(t *testing.T, env []string) scriptResult {
	t.Helper()
	for _, f := range []string{w.calls, w.argv} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bash := testutil.RequireTool(t, "bash")
	in := filepath.Join(w.dir, "stdin")
	if err := os.WriteFile(in, []byte(rollKey), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := []string{bash, "-c", `exec bash -c "$0" node-roll <"$ROLL_TEST_STDIN"`, components.ScriptText("node-roll.sh")}
	res := scriptRunArgv(t, w.dir, append(env, "ROLL_TEST_STDIN="+in), argv)
	for what, text := range map[string]string{
		"a command line": scriptReadFile(t, w.argv) + scriptReadFile(t, w.calls),
		"stdout":         res.stdout, "stderr": res.stderr,
	} {
		if strings.Contains(text, rollKeyBody[40:]) {
			t.Errorf("the private key is in %s:\n%s", what, text)
		}
	}
	if left, _ := os.ReadDir(w.tmp); len(left) > 0 {
		t.Errorf("temporary files left behind in TMPDIR: %v", left)
	}
	return res
}

// callList returns the calls of the last run.
func (w *rollWorld) callList(t *testing.T) []string {
	t.Helper()
	s := strings.TrimSuffix(scriptReadFile(t, w.calls), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// rollIndex is the index of the first call containing part, or -1.
func rollIndex(calls []string, part string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.Contains(c, part) })
}

// rollCount counts the calls containing part.
func rollCount(calls []string, part string) int {
	n := 0
	for _, c := range calls {
		if strings.Contains(c, part) {
			n++
		}
	}
	return n
}

// rollOrder fails unless the calls contain every part, each one after the
// previous one's call.
func rollOrder(t *testing.T, calls []string, parts ...string) {
	t.Helper()
	from := 0
	for i, p := range parts {
		j := rollIndex(calls[from:], p)
		if j < 0 {
			after := ""
			if i > 0 {
				after = " after " + strings.TrimSpace(parts[i-1])
			}
			t.Errorf("no call %q%s:\n%s", p, after, strings.Join(calls, "\n"))
			return
		}
		from += j + 1
	}
}

// rollNone fails when any call contains one of parts.
func rollNone(t *testing.T, calls []string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if i := rollIndex(calls, p); i >= 0 {
			t.Errorf("unexpected call %q", calls[i])
		}
	}
}

// rollLab is a lab on system A (Kubernetes v1.35.2, kernel 6.6.1, systemd
// 257) with cp1, cp2 and w1.
func rollLab(t *testing.T) (*rollWorld, string) {
	t.Helper()
	w := newRollWorld(t)
	a := w.system(t, "a", "v1.35.2", "6.6.1", "257.1")
	w.node(t, "cp1", rollCP1, "control-plane", a)
	w.node(t, "cp2", rollCP2, "control-plane", a)
	w.node(t, "w1", rollW1, "worker", a)
	return w, a
}

// rollExpect checks exit code, stdout and stderr fragments.
func rollExpect(t *testing.T, res scriptResult, code int, stdout string, stderr ...string) {
	t.Helper()
	if res.code != code {
		t.Errorf("exit %d, want %d", res.code, code)
	}
	if res.stdout != stdout {
		t.Errorf("stdout = %q, want %q", res.stdout, stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, stderr...)
}

// cordoned reports whether node is cordoned, and its nixlab annotation.
func (w *rollWorld) cordoned(node string) (bool, bool) {
	return w.clusterHas("nodes/" + node + "/cordoned"), w.clusterHas("nodes/" + node + "/annotation")
}

func TestScriptNodeRoll_Shellcheck(t *testing.T) { scriptShellcheck(t, "node-roll.sh") }

// A new system with the same kernel, initrd, modules and systemd: copy,
// annotate and cordon, drain, profile, switch, gate, uncordon.
func TestScriptNodeRoll_SwitchWithoutReboot(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	res := w.run(t, w.env("w1", b))
	rollExpect(t, res, 0, b+"\n",
		"[w1] copying "+b+"\n", "[w1] draining\n", "[w1] switching to "+b+"\n",
		"[w1] checking health\n", "[w1] healthy, uncordoned\n")
	calls := w.callList(t)
	rollOrder(t, calls,
		"local: nix --extra-experimental-features nix-command copy --no-check-sigs --to ssh-ng://admin@"+rollW1+"?remote-program=sudo%20-n%20/run/current-system/sw/bin/nix-daemon "+b,
		rollCP1+": kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=30s annotate --overwrite node w1 nixlab.io/roll="+strings.TrimPrefix(b, "/nix/store/"),
		rollCP1+": kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=30s cordon w1",
		rollCP1+": kubectl --kubeconfig /etc/kubernetes/admin.conf drain w1 --ignore-daemonsets --delete-emptydir-data --timeout=120s",
		rollW1+": nix-env -p "+w.root("w1")+"/nix/var/nix/profiles/system --set "+b,
		rollW1+": systemd-run -E LOCALE_ARCHIVE --collect --no-ask-password --pipe --quiet --service-type=exec --unit=nixos-rebuild-switch-to-configuration --wait",
		rollW1+": switch-to-configuration "+b+" switch",
		rollW1+": node-ready w1 - no 600",
		rollW1+": systemctl is-active kubelet",
		"get node w1 -o jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
		rollCP1+": kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=30s uncordon w1",
		"annotate node w1 nixlab.io/roll-")
	rollNone(t, calls, "systemctl reboot", "kubeadm(v1.35.2) upgrade", rollW1+": kubectl", rollCP2+": kubectl")
	if got := w.linked(t, "w1", "run/current-system"); got != b {
		t.Errorf("w1 runs %s, want %s", got, b)
	}
	if got := w.linked(t, "w1", "nix/var/nix/profiles/system"); got != b {
		t.Errorf("w1's profile is %s, want %s", got, b)
	}
	if got := w.linked(t, "w1", "run/booted-system"); got != a {
		t.Errorf("w1 rebooted into %s", got)
	}
	if c, m := w.cordoned("w1"); c || m {
		t.Errorf("w1 cordoned %v, annotated %v after the roll", c, m)
	}
	if !w.clusterHas("nodes/w1/drained") {
		t.Error("w1 was not drained")
	}
}

// The gate polls: a kubelet still starting after the switch fails the
// first checks, then the node passes the gate's checks in a row and the
// roll goes on.
func TestScriptNodeRoll_GateWaitsForKubelet(t *testing.T) {
	t.Parallel()
	w, _ := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.nodeFile(t, "w1", "kubelet-starting", "2\n")
	res := w.run(t, w.env("w1", b))
	rollExpect(t, res, 0, b+"\n", "[w1] checking health\n", "[w1] healthy, uncordoned\n")
	calls := w.callList(t)
	// Activating twice, then active in each of the passes in a row the
	// gate wants (GATE_PASSES).
	m := regexp.MustCompile(`(?m)^readonly GATE_PASSES=([0-9]+)$`).FindStringSubmatch(components.ScriptText("node-roll.sh"))
	if m == nil {
		t.Fatal("node-roll.sh sets no GATE_PASSES")
	}
	passes, _ := strconv.Atoi(m[1])
	if n := rollCount(calls, rollW1+": systemctl is-active kubelet"); n != 2+passes {
		t.Errorf("%d kubelet checks, want %d (activating twice, then active %d times)", n, 2+passes, passes)
	}
	rollNone(t, calls, "rolling back")
	if strings.Contains(res.stderr, "failed") {
		t.Errorf("a check failed:\n%s", res.stderr)
	}
}

// A changed kernel, initrd, modules or systemd needs a reboot: boot, reboot,
// wait for the node to come back on the new system, then the gate.
func TestScriptNodeRoll_RebootWhenBootPartsChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, kernel, systemd, changed string
	}{
		{"kernel", "6.6.2", "257.1", "(kernel, initrd, kernel-modules changed)"},
		{"systemd", "6.6.1", "258.0", "(systemd changed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := rollLab(t)
			k := w.system(t, "k", "v1.35.2", tc.kernel, tc.systemd)
			w.nodeFile(t, "w1", "reboot-down", "3\n")
			res := w.run(t, w.env("w1", k))
			rollExpect(t, res, 0, k+"\n", "[w1] rebooting into "+k+" "+tc.changed+"\n", "[w1] healthy, uncordoned\n")
			calls := w.callList(t)
			rollOrder(t, calls, "cordon w1", "drain w1", "--set "+k,
				"switch-to-configuration "+k+" boot", rollW1+": systemctl reboot", "node-ready w1", "uncordon w1")
			rollNone(t, calls, "switch-to-configuration "+k+" switch")
			for _, l := range []string{"run/booted-system", "run/current-system"} {
				if got := w.linked(t, "w1", l); got != k {
					t.Errorf("%s = %s, want %s", l, got, k)
				}
			}
		})
	}
}

// A node on the target is skipped: no drain, no copy; a node whose
// current system is the target but still boots older parts is not.
func TestScriptNodeRoll_AlreadyOnTarget(t *testing.T) {
	t.Parallel()
	t.Run("skipped", func(t *testing.T) {
		w, a := rollLab(t)
		res := w.run(t, w.env("w1", a))
		rollExpect(t, res, 0, a+"\n", "[w1] already on "+a+", skipped\n")
		rollNone(t, w.callList(t), "nix --extra", "cordon", "drain", "nix-env", "switch-to-configuration", "node-ready")
	})
	t.Run("without Kubernetes", func(t *testing.T) {
		w, a := rollLab(t)
		res := w.run(t, w.env("w1", a, "NIXLAB_KUBERNETES=no", "NIXLAB_KUBE_HOSTS", "NIXLAB_KUBE_VERSION",
			"NIXLAB_DRAIN_TIMEOUT", "NIXLAB_UPGRADE_ROLE"))
		rollExpect(t, res, 0, a+"\n", "[w1] already on "+a+", skipped\n")
		rollNone(t, w.callList(t), "kubectl", "kubeadm", "nix --extra", "nix-env", "switch-to-configuration")
	})
	t.Run("reboot pending", func(t *testing.T) {
		w, _ := rollLab(t)
		k := w.system(t, "k", "v1.35.2", "6.6.2", "257.1")
		w.install(t, "w1", k)
		w.link(t, "w1", "run/current-system", k)
		res := w.run(t, w.env("w1", k))
		rollExpect(t, res, 0, k+"\n", "[w1] rebooting into "+k+" (kernel, initrd, kernel-modules changed)\n")
		if strings.Contains(res.stderr, "skipped") {
			t.Error("a node with a reboot pending was skipped")
		}
		rollOrder(t, w.callList(t), "drain w1", "systemctl reboot", "uncordon w1")
	})
}

// An earlier roll was interrupted after the switch: the node is on the
// target, cordoned and annotated by nixlab. The gate runs and the node is
// uncordoned; nothing is copied or drained again.
func TestScriptNodeRoll_ResumeCordonedOnTarget(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	w.setCluster(t, "nodes/w1/cordoned", "")
	w.setCluster(t, "nodes/w1/annotation", strings.TrimPrefix(a, "/nix/store/")+"\n")
	res := w.run(t, w.env("w1", a))
	rollExpect(t, res, 0, a+"\n", "resuming", "[w1] checking health\n", "[w1] healthy, uncordoned\n")
	calls := w.callList(t)
	rollOrder(t, calls, "node-ready w1", "uncordon w1", "annotate node w1 nixlab.io/roll-")
	rollNone(t, calls, "nix --extra", "drain", "nix-env", "switch-to-configuration")
	if c, m := w.cordoned("w1"); c || m {
		t.Errorf("w1 cordoned %v, annotated %v after the resume", c, m)
	}
}

// A drain that a PodDisruptionBudget blocks until the timeout: the node is
// uncordoned (nothing on it changed) and the step fails naming the drain,
// the timeout in minutes and kubectl's output.
func TestScriptNodeRoll_DrainTimeout(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.setCluster(t, "pdb", "")
	res := w.run(t, w.env("w1", b))
	rollExpect(t, res, 1, a+"\n", "[w1] drain failed: kubectl drain did not finish within 2 minutes",
		"global timeout reached: 120s", "w1 was uncordoned again", "the roll stopped")
	calls := w.callList(t)
	rollOrder(t, calls, "cordon w1", "drain w1", "uncordon w1", "annotate node w1 nixlab.io/roll-")
	rollNone(t, calls, "nix-env", "switch-to-configuration", rollW1+": kubeadm(")
	if c, m := w.cordoned("w1"); c || m {
		t.Errorf("w1 cordoned %v, annotated %v after the failed drain", c, m)
	}
	if got := w.linked(t, "w1", "run/current-system"); got != a {
		t.Errorf("w1 runs %s after a failed drain", got)
	}
}

// A failed gate with rollback: back to the previous system (rebooting when
// its boot parts differ from the booted ones), healthy again, uncordoned;
// the step fails naming the check, its output and the previous system.
func TestScriptNodeRoll_FailedGateRollsBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, kernel string }{{"switch", "6.6.1"}, {"reboot", "6.6.2"}} {
		t.Run(tc.name, func(t *testing.T) {
			w, a := rollLab(t)
			b := w.system(t, "b", "v1.35.2", tc.kernel, "257.1")
			w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(b), "containerd failed: containerd is failed (systemctl is-active containerd)\n")
			res := w.run(t, w.env("w1", b))
			rollExpect(t, res, 1, a+"\n",
				"[w1] readiness failed: node w1: containerd failed: containerd is failed", "; rolling back to "+a+"\n",
				"; rolled back to "+a+"; the roll stopped\n")
			if got := w.linked(t, "w1", "run/current-system"); got != a {
				t.Errorf("w1 runs %s after the rollback, want %s", got, a)
			}
			if got := w.linked(t, "w1", "nix/var/nix/profiles/system"); got != a {
				t.Errorf("w1's profile is %s after the rollback, want %s", got, a)
			}
			if got := w.linked(t, "w1", "run/booted-system"); got != a {
				t.Errorf("w1 booted %s after the rollback, want %s", got, a)
			}
			calls := w.callList(t)
			if tc.name == "reboot" {
				rollOrder(t, calls, "switch-to-configuration "+b+" boot", "systemctl reboot", "--set "+a,
					"switch-to-configuration "+a+" boot", "systemctl reboot", "uncordon w1")
			} else {
				rollOrder(t, calls, "switch-to-configuration "+b+" switch", "--set "+a, "switch-to-configuration "+a+" switch", "uncordon w1")
				rollNone(t, calls, "systemctl reboot")
			}
			if c, m := w.cordoned("w1"); c || m {
				t.Errorf("w1 cordoned %v, annotated %v after a successful rollback", c, m)
			}
		})
	}
}

// A switch that fails (units that do not start) is a failed check too.
func TestScriptNodeRoll_FailedSwitchRollsBack(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.nodeFile(t, "w1", "switch-fail-"+filepath.Base(b), "Failed to start kubelet.service\n")
	res := w.run(t, w.env("w1", b))
	rollExpect(t, res, 1, a+"\n", "[w1] switch failed: ", "Failed to start kubelet.service",
		"; rolled back to "+a+"; the roll stopped\n")
	if got := w.linked(t, "w1", "run/current-system"); got != a {
		t.Errorf("w1 runs %s, want %s", got, a)
	}
}

// The rollback fails too: both failures named, the node stays cordoned,
// what to do by hand.
func TestScriptNodeRoll_FailedRollback(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(b), "disk failed: the root filesystem did not grow\n")
	w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(a), "containerd failed: containerd is failed\n")
	res := w.run(t, w.env("w1", b))
	rollExpect(t, res, 1, "", "[w1] readiness failed: node w1: disk failed", "rolling back to "+a,
		"the rollback to "+a+" failed too: readiness failed: node w1: containerd failed",
		"w1 is left cordoned", "By hand: ", "kubectl uncordon w1", "the roll stopped")
	if c, m := w.cordoned("w1"); !c || !m {
		t.Errorf("w1 cordoned %v, annotated %v after a failed rollback; want both", c, m)
	}
	rollNone(t, w.callList(t), "uncordon w1")
}

// Rollback off: the node stays on the new system, cordoned.
func TestScriptNodeRoll_RollbackOff(t *testing.T) {
	t.Parallel()
	w, _ := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(b), "swap failed: swap is active\n")
	res := w.run(t, w.env("w1", b, "NIXLAB_ROLLBACK=no"))
	rollExpect(t, res, 1, "", "[w1] readiness failed: node w1: swap failed: swap is active", "rollback is off", "cordoned")
	if got := w.linked(t, "w1", "run/current-system"); got != b {
		t.Errorf("w1 runs %s, want %s (no rollback)", got, b)
	}
	if c, _ := w.cordoned("w1"); !c {
		t.Error("w1 was uncordoned although unhealthy")
	}
	rollNone(t, w.callList(t), "uncordon", "rolling back")
}

// Version refusals happen before anything changes: no annotation, cordon,
// drain, copy or switch.
func TestScriptNodeRoll_VersionRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, node, target, cluster, guard string
		kubelet                            string // the node's kubelet version, when not its system's v1.35.2
		wants                              []string
	}{
		{"skip", "cp1", "v1.37.0", "v1.35.2", "-", "", []string{"refused", "v1.35.2", "v1.37.0", "one minor version at a time"}},
		{"downgrade", "w1", "v1.34.5", "v1.35.2", "-", "", []string{"refused: the cluster runs v1.35.2 but the target system carries v1.34.5: kubeadm cannot downgrade a cluster"}},
		// The node's kubelet is ahead of the cluster's recorded version (a
		// node rolled by hand): the target would downgrade it.
		{"kubelet downgrade", "w1", "v1.35.3", "v1.35.2", "-", "v1.36.1", []string{"refused: w1's kubelet is v1.36.1 but the target system carries v1.35.3: a downgrade"}},
		{"guard mismatch", "w1", "v1.36.1", "v1.35.2", "1.35", "", []string{"refused", "v1.36.1", "nixlab:kubernetes.version is 1.35"}},
		{"worker ahead", "w1", "v1.36.1", "v1.35.2", "1.36", "", []string{"refused", "v1.36.1", "v1.35.2", "first control plane"}},
		{"other control plane ahead", "cp2", "v1.36.1", "v1.35.2", "1.36", "", []string{"refused", "first control plane"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, a := rollLab(t)
			w.setCluster(t, "version", tc.cluster)
			if tc.kubelet != "" {
				w.nodeFile(t, tc.node, filepath.Join(a, "k8s-version"), tc.kubelet+"\n")
			}
			n := w.system(t, "n", tc.target, "6.6.1", "257.1")
			res := w.run(t, w.env(tc.node, n, "NIXLAB_KUBE_VERSION="+tc.guard))
			rollExpect(t, res, 1, "", append(tc.wants, "Nothing was changed")...)
			rollNone(t, w.callList(t), "annotate", "cordon", "drain", "nix --extra", "nix-env", "switch-to-configuration", "upgrade")
			if got := w.linked(t, tc.node, "run/current-system"); got != a {
				t.Errorf("%s runs %s", tc.node, got)
			}
		})
	}
}

// The first control plane upgrades the cluster with the NEW kubeadm before
// its kubelet is switched; kubectl runs on another control plane.
func TestScriptNodeRoll_FirstControlPlaneUpgradeApply(t *testing.T) {
	t.Parallel()
	w, _ := rollLab(t)
	u := w.system(t, "u", "v1.36.1", "6.6.1", "257.1")
	res := w.run(t, w.env("cp1", u, "NIXLAB_KUBE_VERSION=1.36"))
	rollExpect(t, res, 0, u+"\n", "[cp1] upgrading Kubernetes to v1.36.1 (kubeadm upgrade apply)\n", "[cp1] healthy, uncordoned\n")
	calls := w.callList(t)
	rollOrder(t, calls, "local: kubeadm(v1.36.1) version -o short", "nix --extra", "drain cp1",
		rollCP1+": kubeadm(v1.36.1) upgrade apply -y v1.36.1", "--set "+u, "switch-to-configuration "+u+" switch",
		"get pod kube-apiserver-cp1", "get pod etcd-cp1", "uncordon cp1")
	rollNone(t, calls, rollCP1+": kubectl", "upgrade node")
	if v := strings.TrimSpace(scriptReadFile(t, filepath.Join(w.cluster, "version"))); v != "v1.36.1" {
		t.Errorf("cluster version %s after upgrade apply", v)
	}
}

// Every other node runs `kubeadm upgrade node` once the cluster is upgraded.
func TestScriptNodeRoll_OtherNodesUpgradeNode(t *testing.T) {
	t.Parallel()
	for _, node := range []string{"cp2", "w1"} {
		t.Run(node, func(t *testing.T) {
			w, _ := rollLab(t)
			w.setCluster(t, "version", "v1.36.1")
			u := w.system(t, "u", "v1.36.1", "6.6.1", "257.1")
			res := w.run(t, w.env(node, u, "NIXLAB_KUBE_VERSION=1.36"))
			rollExpect(t, res, 0, u+"\n", "["+node+"] upgrading Kubernetes to v1.36.1 (kubeadm upgrade node)\n")
			calls := w.callList(t)
			rollOrder(t, calls, "drain "+node, w.addr[node]+": kubeadm(v1.36.1) upgrade node", "switch-to-configuration "+u+" switch")
			rollNone(t, calls, "upgrade apply")
		})
	}
}

// A control plane's gate waits for its API server and etcd mirror pods.
func TestScriptNodeRoll_ControlPlaneGate(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.setCluster(t, "pods/etcd-cp2.notready", filepath.Base(b)+"\n")
	res := w.run(t, w.env("cp2", b))
	rollExpect(t, res, 1, a+"\n", "[cp2] etcd failed: pod kube-system/etcd-cp2 Ready is False", "rolled back to "+a)
}

// kubectl runs on the first control plane that answers and is not the node;
// a single control plane uses itself.
func TestScriptNodeRoll_KubectlHost(t *testing.T) {
	t.Parallel()
	t.Run("first answering", func(t *testing.T) {
		w, _ := rollLab(t)
		b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
		w.setCluster(t, "down/"+rollCP1, "")
		res := w.run(t, w.env("w1", b))
		rollExpect(t, res, 0, b+"\n")
		rollOrder(t, w.callList(t), rollCP2+": kubectl --kubeconfig /etc/kubernetes/admin.conf drain w1")
	})
	t.Run("single control plane", func(t *testing.T) {
		w, _ := rollLab(t)
		b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
		res := w.run(t, w.env("cp1", b, "NIXLAB_KUBE_HOSTS=admin@"+rollCP1))
		rollExpect(t, res, 0, b+"\n")
		rollOrder(t, w.callList(t), rollCP1+": kubectl --kubeconfig /etc/kubernetes/admin.conf drain cp1")
	})
	t.Run("none answers", func(t *testing.T) {
		w, _ := rollLab(t)
		b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
		w.setCluster(t, "down/"+rollCP1, "")
		w.setCluster(t, "down/"+rollCP2, "")
		res := w.run(t, w.env("w1", b))
		rollExpect(t, res, 1, "", "no control plane answers kubectl", rollCP1+":6443 was refused", "nothing was changed")
		rollNone(t, w.callList(t), "nix --extra", "cordon")
	})
}

// A node someone else cordoned is drained but never uncordoned, and
// never annotated, also when the drain fails.
func TestScriptNodeRoll_CordonedBySomeoneElse(t *testing.T) {
	t.Parallel()
	t.Run("healthy", func(t *testing.T) {
		w, _ := rollLab(t)
		b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
		w.setCluster(t, "nodes/w1/cordoned", "")
		res := w.run(t, w.env("w1", b))
		rollExpect(t, res, 0, b+"\n", "it stays cordoned", "[w1] healthy; left cordoned")
		rollNone(t, w.callList(t), "uncordon", "annotate", "cordon w1")
		if c, _ := w.cordoned("w1"); !c {
			t.Error("w1 was uncordoned")
		}
	})
	t.Run("drain fails", func(t *testing.T) {
		w, _ := rollLab(t)
		b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
		w.setCluster(t, "nodes/w1/cordoned", "")
		w.setCluster(t, "pdb", "")
		res := w.run(t, w.env("w1", b))
		rollExpect(t, res, 1, w.linked(t, "w1", "run/current-system")+"\n", "drain failed", "w1 stays cordoned (it was cordoned before the roll)")
		rollNone(t, w.callList(t), "uncordon")
	})
}

// Without Kubernetes: copy, switch, readiness gate, rollback; no kubectl,
// no kubeadm on the node, no drain.
func TestScriptNodeRoll_WithoutKubernetes(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	res := w.run(t, w.env("w1", b, "NIXLAB_KUBERNETES=no", "NIXLAB_KUBE_HOSTS", "NIXLAB_KUBE_VERSION",
		"NIXLAB_DRAIN_TIMEOUT", "NIXLAB_UPGRADE_ROLE"))
	rollExpect(t, res, 0, b+"\n", "[w1] copying ", "[w1] switching to "+b, "[w1] healthy\n")
	calls := w.callList(t)
	rollOrder(t, calls, "nix --extra", "--set "+b, "switch-to-configuration "+b+" switch", "node-ready w1")
	rollNone(t, calls, "kubectl", "kubeadm", "is-active kubelet")

	// A failed gate rolls back to the previous system (b), still without kubectl.
	c := w.system(t, "c", "v1.35.2", "6.6.1", "257.1")
	w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(c), "nfs failed: nothing is mounted at /mnt/nfs\n")
	res = w.run(t, w.env("w1", c, "NIXLAB_KUBERNETES=no", "NIXLAB_KUBE_HOSTS", "NIXLAB_KUBE_VERSION",
		"NIXLAB_DRAIN_TIMEOUT", "NIXLAB_UPGRADE_ROLE"))
	rollExpect(t, res, 1, b+"\n", "[w1] readiness failed: node w1: nfs failed", "; rolled back to "+b+"; the roll stopped")
	rollNone(t, w.callList(t), "kubectl", "kubeadm")
	if got := w.linked(t, "w1", "run/current-system"); got != b {
		t.Errorf("w1 runs %s, want %s", got, b)
	}
	_ = a
}

// A TMPDIR the key file cannot go to is refused before anything runs: one
// that does not exist, and one with whitespace (NIX_SSHOPTS is split on
// it, so nix copy would get a broken -i option).
func TestScriptNodeRoll_UnusableTMPDIR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, dir, want string }{
		{"missing", "missing", "[w1] cannot create a temporary directory under "},
		{"whitespace", "tmp dir", "contains whitespace, which NIX_SSHOPTS cannot carry: set TMPDIR to a path without"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, a := rollLab(t)
			b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
			dir := filepath.Join(w.dir, tc.dir)
			if tc.name != "missing" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			res := w.run(t, append(w.env("w1", b), "TMPDIR="+dir))
			rollExpect(t, res, 1, "", tc.want)
			if calls := w.callList(t); len(calls) > 0 {
				t.Errorf("commands ran: %q", calls)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("temporary files left behind in %s: %v", dir, left)
			}
			if got := w.linked(t, "w1", "run/current-system"); got != a {
				t.Errorf("w1 runs %s", got)
			}
		})
	}
}

// A node whose system links cannot be read, or are not store paths, is
// refused before anything changes, naming the link and what it holds.
func TestScriptNodeRoll_NodeStateUnreadable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *rollWorld)
		want  string
	}{
		{"ssh refused", func(t *testing.T, w *rollWorld) {
			w.nodeFile(t, "w1", "down", "forever\n")
		}, "[w1] cannot read /run/current-system on admin@" + rollW1 + " over ssh: ssh: connect to host " + rollW1 + " port 22: Connection refused\n"},
		{"no booted system", func(t *testing.T, w *rollWorld) {
			if err := os.Remove(filepath.Join(w.root("w1"), "run/booted-system")); err != nil {
				t.Fatal(err)
			}
		}, "[w1] /run/booted-system on admin@" + rollW1 + " is '/run/booted-system', not a store path: is it a NixOS node?\n"},
		{"no current system", func(t *testing.T, w *rollWorld) {
			if err := os.Remove(filepath.Join(w.root("w1"), "run/current-system")); err != nil {
				t.Fatal(err)
			}
		}, "[w1] /run/current-system on admin@" + rollW1 + " is '/run/current-system', not a store path: is it a NixOS node?\n"},
		// current-system names the target, but the target is not in the
		// node's store: its boot parts cannot be compared.
		{"current system missing from the store", func(t *testing.T, w *rollWorld) {
			w.link(t, "w1", "run/current-system", w.target)
		}, "[w1] cannot compare TARGET with the booted system: TARGET is not on the node\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := rollLab(t)
			b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
			w.target = b
			tc.setup(t, w)
			// Without Kubernetes: the fake kubectl reads the kubelet version
			// from the current system, which this lab may lack.
			res := w.run(t, w.env("w1", b, "NIXLAB_KUBERNETES=no", "NIXLAB_KUBE_HOSTS", "NIXLAB_KUBE_VERSION",
				"NIXLAB_DRAIN_TIMEOUT", "NIXLAB_UPGRADE_ROLE"))
			rollExpect(t, res, 1, "", strings.ReplaceAll(tc.want, "TARGET", b))
			rollNone(t, w.callList(t), "kubectl", "nix --extra", "nix-env", "switch-to-configuration")
		})
	}
}

// What the roll reads before it changes anything (the Node, the target's
// and the cluster's Kubernetes versions) cannot be read or makes no sense:
// refused, naming what and why.
func TestScriptNodeRoll_ClusterReadFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *rollWorld, local string) // local: the target in the local store
		want  string
	}{
		{"node not registered", func(t *testing.T, w *rollWorld, _ string) {
			if err := os.RemoveAll(filepath.Join(w.cluster, "nodes/w1")); err != nil {
				t.Fatal(err)
			}
		}, "[w1] cannot read Node w1: Error from server (NotFound): nodes \"w1\" not found; nothing was changed\n"},
		{"target without kubeadm", func(t *testing.T, _ *rollWorld, local string) {
			if err := os.Remove(filepath.Join(local, "sw/bin/kubeadm")); err != nil {
				t.Fatal(err)
			}
		}, "[w1] the target system TARGET has no sw/bin/kubeadm: is pkgs.kubernetes in the node image? Nothing was changed\n"},
		{"target kubeadm does not start", func(t *testing.T, _ *rollWorld, local string) {
			scriptWriteFile(t, filepath.Join(local, "kubeadm-broken"), "kubeadm: error while loading shared libraries: libc.so.6\n")
		}, "/sw/bin/kubeadm version -o short' failed: kubeadm: error while loading shared libraries: libc.so.6\n"},
		{"target kubeadm prints no version", func(t *testing.T, _ *rollWorld, local string) {
			scriptWriteFile(t, filepath.Join(local, "k8s-version"), "unknown\n")
		}, "[w1] 'kubeadm version -o short' of TARGET printed 'unknown', not v1.<minor>.<patch>\n"},
		{"kubeadm-config forbidden", func(t *testing.T, w *rollWorld, _ string) {
			w.setCluster(t, "error", "kube-system|get configmap kubeadm-config\nError from server (Forbidden): configmaps \"kubeadm-config\" is forbidden\n")
		}, "[w1] cannot read the cluster's version (ConfigMap kube-system/kubeadm-config): Error from server (Forbidden): configmaps \"kubeadm-config\" is forbidden; nothing was changed\n"},
		{"kubeadm-config without a version", func(t *testing.T, w *rollWorld, _ string) {
			w.setCluster(t, "version", "\n")
		}, "[w1] the kubeadm-config ConfigMap has no kubernetesVersion; nothing was changed\n"},
		{"cluster version not 1.x", func(t *testing.T, w *rollWorld, _ string) {
			w.setCluster(t, "version", "v2.0.0\n")
		}, "[w1] unexpected cluster version 'v2.0.0'\n"},
		{"kubelet version not 1.x", func(t *testing.T, w *rollWorld, _ string) {
			w.nodeFile(t, "w1", filepath.Join(w.linked(t, "w1", "run/current-system"), "k8s-version"), "unknown\n")
		}, "[w1] unexpected kubelet version 'unknown' of Node w1; nothing was changed\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, a := rollLab(t)
			b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
			tc.setup(t, w, filepath.Join(w.local, b))
			res := w.run(t, w.env("w1", b))
			rollExpect(t, res, 1, "", strings.ReplaceAll(tc.want, "TARGET", b))
			rollNone(t, w.callList(t), "annotate", "cordon", "drain", "nix --extra", "nix-env", "switch-to-configuration")
			if got := w.linked(t, "w1", "run/current-system"); got != a {
				t.Errorf("w1 runs %s", got)
			}
		})
	}
}

// The node is healthy but its annotation cannot be removed: the step
// fails, saying what to do by hand.
func TestScriptNodeRoll_UncordonFails(t *testing.T) {
	t.Parallel()
	w, _ := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.setCluster(t, "error", "|annotate node w1 nixlab.io/roll-\nError from server (Forbidden): nodes \"w1\" is forbidden\n")
	res := w.run(t, w.env("w1", b))
	rollExpect(t, res, 1, "", "[w1] healthy, but uncordoning failed: Error from server (Forbidden): nodes \"w1\" is forbidden; run 'kubectl uncordon w1'")
	if strings.Contains(res.stderr, "healthy, uncordoned") {
		t.Errorf("reported uncordoned:\n%s", res.stderr)
	}
}

// A check's output is quoted on one line, at most 1500 characters: a
// longer one keeps its end, after "...".
func TestScriptNodeRoll_LongCheckOutput(t *testing.T) {
	t.Parallel()
	// node-ready's two stderr lines (rollReadyScript), joined by " | ".
	const head, tail = "node w1: ", " | node w1 not ready: 1 check failed (containerd)"
	for _, n := range []int{1500, 1501} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			w, a := rollLab(t)
			b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
			line := head + "disk failed: " + strings.Repeat("x", n-len(head)-len("disk failed: ")-len(tail)) + tail
			w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(b), strings.TrimPrefix(strings.TrimSuffix(line, tail), head)+"\n")
			want := line
			if n > 1500 {
				want = "..." + line[n-1500:]
			}
			res := w.run(t, w.env("w1", b, "NIXLAB_ROLLBACK=no"))
			rollExpect(t, res, 1, "", "[w1] readiness failed: "+want+" (still failing after 2 s); rollback is off")
			_ = a
		})
	}
}

// The key reaches ssh and nix only as a mode-600 file that is removed at
// the end (w.run checks argv, stdout, stderr and TMPDIR on every run).
func TestScriptNodeRoll_KeyFile(t *testing.T) {
	t.Parallel()
	w, _ := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	w.nodeFile(t, "w1", "ready-fail-"+filepath.Base(b), "containerd failed: down\n")
	res := w.run(t, w.env("w1", b))
	if res.code != 1 {
		t.Fatalf("exit %d, want 1", res.code)
	}
	argv := scriptReadFile(t, w.argv)
	if !strings.Contains(argv, "-i "+w.tmp+"/nixlab-roll.") || !strings.Contains(argv, "-o UserKnownHostsFile="+w.tmp+"/nixlab-roll.") {
		t.Errorf("ssh got no key file or known-hosts file under TMPDIR:\n%s", argv)
	}
}

// A bad or missing setting is refused with its name before anything runs.
func TestScriptNodeRoll_BadEnvironment(t *testing.T) {
	t.Parallel()
	w, _ := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	for _, tc := range []struct{ name, value string }{
		{"NIXLAB_NODE", ""}, {"NIXLAB_NODE", "-w1"}, {"NIXLAB_NODE", "w1;reboot"},
		{"NIXLAB_NODE_HOST", ""}, {"NIXLAB_NODE_HOST", "-oProxyCommand=x"}, {"NIXLAB_NODE_HOST", "a b"},
		{"NIXLAB_NODE_USER", ""}, {"NIXLAB_NODE_USER", "Admin;x"},
		{"NIXLAB_ADMIN_USER", ""}, {"NIXLAB_ADMIN_USER", "root x"},
		{"NIXLAB_ROLE", ""}, {"NIXLAB_ROLE", "master"},
		{"NIXLAB_UPGRADE_ROLE", ""}, {"NIXLAB_UPGRADE_ROLE", "second"},
		{"NIXLAB_SYSTEM", ""}, {"NIXLAB_SYSTEM", "/tmp/system"}, {"NIXLAB_SYSTEM", "/nix/store/" + strings.Repeat("e", 32) + "-nixos-system-x"},
		{"NIXLAB_SYSTEM", "/nix/store/" + rollHash("missing") + "-nixos-system-lab-missing"},
		{"NIXLAB_KUBERNETES", ""}, {"NIXLAB_KUBERNETES", "true"},
		{"NIXLAB_KUBE_HOSTS", ""}, {"NIXLAB_KUBE_HOSTS", "10.0.0.11"}, {"NIXLAB_KUBE_HOSTS", "admin@10.0.0.11 root@-x"},
		{"NIXLAB_KUBE_VERSION", ""}, {"NIXLAB_KUBE_VERSION", "1.35.2"}, {"NIXLAB_KUBE_VERSION", "v1.35"},
		{"NIXLAB_DRAIN_TIMEOUT", ""}, {"NIXLAB_DRAIN_TIMEOUT", "0"}, {"NIXLAB_DRAIN_TIMEOUT", "10m"},
		{"NIXLAB_HEALTH_TIMEOUT", ""}, {"NIXLAB_HEALTH_TIMEOUT", "-1"},
		{"NIXLAB_ROLLBACK", ""}, {"NIXLAB_ROLLBACK", "true"},
		{"NIXLAB_READY_SCRIPT", ""}, {"NIXLAB_READY_SCRIPT", " \n"},
		{"NIXLAB_READY_ARGS", ""}, {"NIXLAB_READY_ARGS", "w1 - no"}, {"NIXLAB_READY_ARGS", "w1 - no 600 x"},
		{"NIXLAB_POLL_SECONDS", "soon"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			override := tc.name + "=" + tc.value
			if tc.value == "" {
				override = tc.name
			}
			res := w.run(t, w.env("w1", b, override))
			if res.code != 2 || !strings.Contains(res.stderr, tc.name) {
				t.Errorf("exit %d, stderr %q; want 2 naming %s", res.code, res.stderr, tc.name)
			}
			if calls := w.callList(t); len(calls) > 0 {
				t.Errorf("commands ran: %q", calls)
			}
		})
	}
	t.Run("first worker", func(t *testing.T) {
		res := w.run(t, w.env("w1", b, "NIXLAB_UPGRADE_ROLE=first"))
		if res.code != 2 || !strings.Contains(res.stderr, "NIXLAB_UPGRADE_ROLE") {
			t.Errorf("exit %d, stderr %q", res.code, res.stderr)
		}
	})
	t.Run("no key", func(t *testing.T) {
		env := w.env("w1", b)
		bash := testutil.RequireTool(t, "bash")
		res := scriptRunArgv(t, w.dir, env, []string{bash, "-c", `exec bash -c "$0" node-roll </dev/null`, components.ScriptText("node-roll.sh")})
		if res.code != 2 || !strings.Contains(res.stderr, "no SSH private key on stdin") {
			t.Errorf("exit %d, stderr %q", res.code, res.stderr)
		}
	})
}

// A node that never comes back from its reboot: the reboot check fails, and
// so does the rollback (the node does not answer); both are named.
func TestScriptNodeRoll_RebootNeverReturns(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	k := w.system(t, "k", "v1.35.2", "6.6.2", "257.1")
	w.nodeFile(t, "w1", "reboot-down", "forever\n")
	res := w.run(t, w.env("w1", k))
	rollExpect(t, res, 1, "", "[w1] reboot failed: the node did not come back within 2 s", "Connection refused",
		"rolling back to "+a, "the rollback to "+a+" failed too: profile failed", "w1 is left cordoned")
	if c, m := w.cordoned("w1"); !c || !m {
		t.Errorf("w1 cordoned %v, annotated %v; want both", c, m)
	}
}

// A failed kubeadm upgrade stops before the switch; the node stays
// cordoned. A failed gate after an upgrade says the upgrade is not undone.
func TestScriptNodeRoll_UpgradeFailures(t *testing.T) {
	t.Parallel()
	t.Run("kubeadm fails", func(t *testing.T) {
		w, a := rollLab(t)
		u := w.system(t, "u", "v1.36.1", "6.6.1", "257.1")
		w.nodeFile(t, "cp1", "kubeadm-fail", "[upgrade/apply] FATAL: couldn't upgrade control plane. kubeadm has tried to recover everything into the earlier state\n")
		res := w.run(t, w.env("cp1", u, "NIXLAB_KUBE_VERSION=1.36"))
		rollExpect(t, res, 1, "", "[cp1] kubeadm upgrade apply failed: ", "tried to recover everything", "stays cordoned")
		rollNone(t, w.callList(t), "nix-env", "switch-to-configuration", "uncordon")
		if got := w.linked(t, "cp1", "run/current-system"); got != a {
			t.Errorf("cp1 runs %s", got)
		}
	})
	t.Run("gate fails after upgrade apply", func(t *testing.T) {
		w, a := rollLab(t)
		u := w.system(t, "u", "v1.36.1", "6.6.1", "257.1")
		w.nodeFile(t, "cp1", "ready-fail-"+filepath.Base(u), "containerd failed: containerd is failed\n")
		res := w.run(t, w.env("cp1", u, "NIXLAB_KUBE_VERSION=1.36"))
		rollExpect(t, res, 1, a+"\n", "rolled back to "+a, "kubeadm upgrade apply already ran and is not undone")
	})
}

// A resumed node that fails its gate stays cordoned. The kubelet check
// wants "active": a kubelet still reloading (is-active exits 0 for it) is
// not healthy yet; nor is a Node whose Ready condition kubectl reads fine
// as Unknown.
func TestScriptNodeRoll_ResumeGateFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, file, content, want string }{
		{"kubelet failed", "kubelet", "failed\n", "[w1] kubelet failed: systemctl is-active kubelet: failed (still failing after 2 s)"},
		{"kubelet reloading", "kubelet", "reloading\n", "[w1] kubelet failed: systemctl is-active kubelet: reloading (still failing after 2 s)"},
		{"node not Ready", "", "", "[w1] node Ready failed: the Node's Ready condition is Unknown (still failing after 2 s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, a := rollLab(t)
			w.setCluster(t, "nodes/w1/cordoned", "")
			w.setCluster(t, "nodes/w1/annotation", strings.TrimPrefix(a, "/nix/store/")+"\n")
			if tc.file != "" {
				w.nodeFile(t, "w1", tc.file, tc.content)
			} else {
				w.setCluster(t, "nodes/w1/notready", "")
			}
			res := w.run(t, w.env("w1", a))
			rollExpect(t, res, 1, "", tc.want, "w1 stays cordoned")
			rollNone(t, w.callList(t), "uncordon", "nix-env")
		})
	}
}

// A node cloned with another admin user than the new system declares is
// refused before anything changes: NixOS would delete its login user on the
// switch (nixpkgs nixos/modules/config/update-users-groups.pl removes users
// it declared before and declares no more), locking the roll and its
// rollback out. A node on target is only checked, whatever its user.
func TestScriptNodeRoll_AdminUserChanged(t *testing.T) {
	t.Parallel()
	w, a := rollLab(t)
	b := w.system(t, "b", "v1.35.2", "6.6.1", "257.1")
	res := w.run(t, w.env("w1", b, "NIXLAB_ADMIN_USER=ops"))
	rollExpect(t, res, 1, "", "refused", "admin user is ops", "logs in as admin", "nixlab:adminUser", "nixlab:updates.hold", "Nothing was changed")
	rollNone(t, w.callList(t), "annotate", "cordon", "drain", "nix --extra", "nix-env", "switch-to-configuration", "upgrade")
	if got := w.linked(t, "w1", "run/current-system"); got != a {
		t.Errorf("w1 runs %s", got)
	}
	res = w.run(t, w.env("w1", a, "NIXLAB_ADMIN_USER=ops"))
	rollExpect(t, res, 0, a+"\n", "already on")
}
