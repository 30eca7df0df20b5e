package components_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/components/kubeadm"
	"github.com/nixlab/nixlab/internal/testutil"
)

// The secrets every kube test uses. The token's two halves and the key are
// checked separately: neither may show up anywhere.
const (
	kubeToken   = "q7x2ab.k3m9zp4w8v1t6r5s"
	kubeCertKey = "5f0c3e2a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"
)

// kubeSpec is the cluster the rendered configs describe: three control
// planes behind a VIP.
var kubeSpec = kubeadm.ClusterSpec{
	ClusterName: "lab", Endpoint: "10.0.0.100",
	PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", Swap: true,
}

// kubeCA is a CA certificate like kubeadm's (RSA 2048, self-signed) and its
// discovery hash computed the way kubeadm does: "sha256:" + hex of the
// SHA-256 of the certificate's RawSubjectPublicKeyInfo
// (cmd/kubeadm/app/util/pubkeypin/pubkeypin.go Hash).
var kubeCA = sync.OnceValues(func() (string, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), "sha256:" + hex.EncodeToString(sum[:])
})

// kubeWorld is a fake cluster: shared API state and one directory per node.
type kubeWorld struct {
	dir, bin, tools, cluster, calls, caFile, caHash string
}

func newKubeWorld(t *testing.T) *kubeWorld {
	t.Helper()
	dir := t.TempDir()
	w := &kubeWorld{
		dir: dir, bin: filepath.Join(dir, "bin"), cluster: filepath.Join(dir, "cluster"),
		calls: filepath.Join(dir, "calls"), caFile: filepath.Join(dir, "ca.crt"),
	}
	for _, d := range []string{w.bin, w.cluster} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Only these tools exist: the scripts must need nothing else.
	w.tools = scriptToolDir(t, "bash", "sleep", "timeout", "mktemp", "tee", "rm", "test", "cat", "mkdir",
		"base64", "sed", "tail", "openssl", "sha256sum", "date",
		// for the fakes only:
		"cp", "ls", "grep", "head", "stat", "dirname", "basename", "seq", "touch")
	testutil.WriteFake(t, w.bin, "sudo", kubeFakeSudo)
	testutil.WriteFake(t, w.bin, "kubeadm", kubeFakeKubeadm)
	testutil.WriteFake(t, w.bin, "kubectl", kubeFakeKubectl)
	testutil.WriteFake(t, w.bin, "systemctl", kubeFakeSystemctl)
	pemText, hash := kubeCA()
	scriptWriteFile(t, w.caFile, pemText)
	w.caHash = hash
	return w
}

// kubeDir is node's /etc/kubernetes; runDir its /run.
func (w *kubeWorld) kubeDir(node string) string {
	return filepath.Join(w.dir, "nodes", node, "etc-kubernetes")
}
func (w *kubeWorld) runDir(node string) string { return filepath.Join(w.dir, "nodes", node, "run") }

// set writes a cluster state file (see scripts_kube_fakes_test.go).
func (w *kubeWorld) set(t *testing.T, name, content string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(w.cluster, name), content)
}

// remove deletes a cluster state file.
func (w *kubeWorld) remove(t *testing.T, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(w.cluster, name)); err != nil {
		t.Fatal(err)
	}
}

func (w *kubeWorld) has(name string) bool {
	_, err := os.Stat(filepath.Join(w.cluster, name))
	return err == nil
}

func (w *kubeWorld) read(t *testing.T, name string) string {
	t.Helper()
	return scriptReadFile(t, filepath.Join(w.cluster, name))
}

// nodeFile writes a file into node's /etc/kubernetes.
func (w *kubeWorld) nodeFile(t *testing.T, node, name, content string) {
	t.Helper()
	scriptWriteFile(t, filepath.Join(w.kubeDir(node), name), content)
}

func (w *kubeWorld) nodeHas(node, name string) bool {
	_, err := os.Stat(filepath.Join(w.kubeDir(node), name))
	return err == nil
}

// env is the environment of a script run on node.
func (w *kubeWorld) env(node string, extra ...string) []string {
	for _, d := range []string{w.kubeDir(node), w.runDir(node)} {
		_ = os.MkdirAll(d, 0o755)
	}
	// The node's own hostname, as cloud-init sets it (the VM name).
	proc := filepath.Join(w.dir, "nodes", node, "proc")
	if _, err := os.Stat(filepath.Join(proc, "sys/kernel/hostname")); err != nil {
		_ = os.MkdirAll(filepath.Join(proc, "sys/kernel"), 0o755)
		_ = os.WriteFile(filepath.Join(proc, "sys/kernel/hostname"), []byte(node+"\n"), 0o644)
	}
	return append([]string{
		"PATH=" + w.bin + string(os.PathListSeparator) + w.tools,
		"HOME=" + w.dir,
		"FAKE_CALLS=" + w.calls,
		"FAKE_CLUSTER=" + w.cluster,
		"FAKE_NODE=" + node,
		"FAKE_CA_CRT=" + w.caFile,
		"FAKE_CA_HASH=" + w.caHash,
		"NIXLAB_KUBE_DIR=" + w.kubeDir(node),
		"NIXLAB_RUN_DIR=" + w.runDir(node),
		"NIXLAB_KUBE_POLL_SECONDS=0.05",
		"NIXLAB_PROC_ROOT=" + proc,
	}, extra...)
}

// run runs script on node with stdin, clearing the call log first.
func (w *kubeWorld) run(t *testing.T, node, stdin string, env []string, script string, args ...string) scriptResult {
	t.Helper()
	if err := os.WriteFile(w.calls, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(w.cluster, "modes"))
	bash := testutil.RequireTool(t, "bash")
	in := filepath.Join(w.dir, "stdin")
	if err := os.WriteFile(in, []byte(stdin), 0o600); err != nil {
		t.Fatal(err)
	}
	// The component's way: the script text as `bash -c`, stdin from a file.
	text := components.ScriptText(script)
	argv := append([]string{bash, "-c", `exec bash -c "$0" "$@" <"$KUBE_TEST_STDIN"`, text, strings.TrimSuffix(script, ".sh")}, args...)
	res := scriptRunArgv(t, w.dir, append(env, "KUBE_TEST_STDIN="+in), argv)
	w.checkNoSecrets(t, res)
	w.checkSecretDirGone(t, node)
	return res
}

// callList returns the calls of the last run, one "tool args" a line.
func (w *kubeWorld) callList(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(w.calls)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// kubeSecretParts are the strings that must never leave stdin and
// root-only files: the token, both its halves' secret part, the key.
var kubeSecretParts = []string{kubeToken, strings.Split(kubeToken, ".")[1], kubeCertKey}

// checkNoSecrets fails the test when a secret is in any fake's argv, on
// stdout or on stderr.
func (w *kubeWorld) checkNoSecrets(t *testing.T, res scriptResult) {
	t.Helper()
	calls := scriptReadFile(t, w.calls)
	for _, s := range kubeSecretParts {
		for what, text := range map[string]string{"a command line": calls, "stdout": res.stdout, "stderr": res.stderr} {
			if strings.Contains(text, s) {
				t.Errorf("secret %q… in %s:\n%s", s[:4], what, text)
			}
		}
	}
}

// checkSecretDirGone fails when a run left its root-only directory behind.
func (w *kubeWorld) checkSecretDirGone(t *testing.T, node string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(w.runDir(node), "nixlab-kube.*"))
	if len(left) > 0 {
		t.Errorf("secret directory left behind: %q", left)
	}
}

// checkSecretModes fails unless kubeadm read its config from a 0600 file
// in a 0700 directory (each `modes` line the fake wrote).
func (w *kubeWorld) checkSecretModes(t *testing.T) {
	t.Helper()
	modes := strings.Split(strings.TrimSpace(w.read(t, "modes")), "\n")
	for _, m := range modes {
		if m != "modes 700 600" {
			t.Errorf("kubeadm read its config with %q, want directory 700 and file 600", m)
		}
	}
}

// initConfig is the InitConfig nixlab renders for node cp1.
func kubeInitConfig(t *testing.T) string {
	t.Helper()
	b, err := kubeadm.InitConfig(kubeSpec, "cp1", kubeToken, kubeCertKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (w *kubeWorld) joinConfig(t *testing.T, node string, controlPlane bool) string {
	t.Helper()
	key := ""
	if controlPlane {
		key = kubeCertKey
	}
	b, err := kubeadm.JoinConfig(kubeSpec, node, controlPlane, kubeToken, w.caHash, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func kubeTokenConfig(t *testing.T) string {
	t.Helper()
	b, err := kubeadm.TokenConfig(kubeSpec, kubeToken, kubeCertKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kubeVIP is the kube-vip manifest nixlab renders, and its base64 argument.
func kubeVIP(t *testing.T) (string, string) {
	t.Helper()
	b, err := kubeadm.KubeVIPManifest("10.0.0.100")
	if err != nil {
		t.Fatal(err)
	}
	return string(b), base64.StdEncoding.EncodeToString(b)
}

// initCluster runs kube-init.sh on cp1 (with the VIP) and fails the test
// unless it succeeds.
func (w *kubeWorld) initCluster(t *testing.T) {
	t.Helper()
	_, vip := kubeVIP(t)
	res := w.run(t, "cp1", kubeInitConfig(t), w.env("cp1"), "kube-init.sh", "cp1", "1.35", vip, "30")
	if res.code != 0 {
		t.Fatalf("kube-init: exit %d", res.code)
	}
}

// joinNode runs kube-join.sh on node and fails the test unless it succeeds.
func (w *kubeWorld) joinNode(t *testing.T, node string, controlPlane bool) {
	t.Helper()
	role := "worker"
	if controlPlane {
		role = "control-plane"
	}
	res := w.run(t, node, w.joinConfig(t, node, controlPlane), w.env(node), "kube-join.sh", node, role, "1.35", "-", "30")
	if res.code != 0 {
		t.Fatalf("kube-join %s: exit %d", node, res.code)
	}
}

// kubeIndex returns the index of the first call with prefix, or -1.
func kubeIndex(calls []string, prefix string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// kubeCount counts the calls with prefix.
func kubeCount(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// kubeExpectFailure checks a failed run: exit 1, nothing on stdout and a
// failure line `[node] phase: failed: ...` containing wants.
func kubeExpectFailure(t *testing.T, res scriptResult, node, phase string, wants ...string) {
	t.Helper()
	if res.code != 1 {
		t.Errorf("exit %d, want 1", res.code)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
	prefix := fmt.Sprintf("[%s] %s: failed: ", node, phase)
	line := ""
	for _, l := range strings.Split(res.stderr, "\n") {
		if strings.HasPrefix(l, prefix) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no %q line in stderr:\n%s", prefix, res.stderr)
	}
	scriptMustContain(t, "stderr", res.stderr, wants...)
}

// kubeProgressRE is the shape of every stderr line the scripts print.
var kubeProgressRE = regexp.MustCompile(`^\[[A-Za-z0-9.-]+\] [a-z -]+: `)

// kubeCheckProgress fails on a stderr line that is not `[node] phase: ...`.
func kubeCheckProgress(t *testing.T, stderr string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l != "" && !kubeProgressRE.MatchString(l) {
			t.Errorf("stderr line not in the [node] phase: form: %q", l)
		}
	}
}

// kubeExpiry is a token or certificate expiry d from now, as the fakes
// store it.
func kubeExpiry(d time.Duration) string {
	return strconv.FormatInt(time.Now().Add(d).Unix(), 10)
}

// kubeUsage checks an invalid-arguments run: exit 2, the usage line, no
// command run.
func (w *kubeWorld) kubeUsage(t *testing.T, res scriptResult, name string, args []string) {
	t.Helper()
	if res.code != 2 || !strings.Contains(res.stderr, "usage: "+name+" ") {
		t.Errorf("args %q: exit %d, stderr %q; want usage and exit 2", args, res.code, res.stderr)
	}
	if calls := w.callList(t); len(calls) != 0 {
		t.Errorf("args %q: commands ran: %q", args, calls)
	}
}

// kubeSecretFileFailures runs script on node twice, with a mktemp and then
// a tee that fail (a full or read-only /run), and checks that it stops with
// the secret file's error before any kubeadm call but the version query.
func kubeSecretFileFailures(t *testing.T, node, script, phase string, stdin func(w *kubeWorld) string, args ...string) {
	t.Helper()
	for _, tc := range []struct{ tool, want string }{
		{"mktemp", "cannot create a root-only directory under "},
		{"tee", "cannot write "},
	} {
		w := newKubeWorld(t)
		w.set(t, "api", "")
		w.nodeFile(t, node, "admin.conf", "kind: Config\n")
		real := testutil.RequireTool(t, tc.tool)
		testutil.WriteFake(t, w.bin, tc.tool, fmt.Sprintf(
			"if [[ \"$*\" == *nixlab-kube* ]]; then echo \"%s: $*: No space left on device\" >&2; exit 1; fi\nexec %q \"$@\"\n", tc.tool, real))
		res := w.run(t, node, stdin(w), w.env(node), script, args...)
		kubeExpectFailure(t, res, args[0], phase, tc.want)
		if calls := w.callList(t); kubeCount(calls, "kubeadm") > kubeCount(calls, "kubeadm version") {
			t.Errorf("%s failing: kubeadm ran: %q", tc.tool, calls)
		}
	}
}
