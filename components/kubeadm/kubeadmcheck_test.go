package kubeadm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// The real kubeadm validates what this package renders: it is built from
// k8s.io/kubernetes by the separate module tools/kubeadmcheck (nixlab's own
// module does not depend on k8s.io/kubernetes) at the version its go.mod
// pins, the Kubernetes minor the node template is meant to ship. `kubeadm
// config validate` decodes strictly (unknown fields fail), defaults and
// runs kubeadm's own validation (cmd/kubeadm/app/cmd/config.go
// newCmdConfigValidate, util/config ValidateConfig).
//
// The build takes minutes cold and seconds from a warm build cache. It is
// skipped in -short mode and when it cannot run, unless
// NIXLAB_REQUIRE_TOOLS=1 (CI), which turns both into failures.
// NIXLAB_KUBEADM=<path> uses a kubeadm built beforehand (it must report the
// pinned version).

const kubeadmBuildTimeout = 30 * time.Minute

var (
	kubeadmOnce    sync.Once
	kubeadmPath    string
	kubeadmVersion string
	kubeadmErr     string
)

// pinnedKubernetesVersion reads the k8s.io/kubernetes version from
// tools/kubeadmcheck/go.mod.
func pinnedKubernetesVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "tools", "kubeadmcheck", "go.mod"))
	if err != nil {
		t.Fatalf("read tools/kubeadmcheck/go.mod: %v", err)
	}
	m := regexp.MustCompile(`(?m)^require k8s\.io/kubernetes (v1\.\d+\.\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("tools/kubeadmcheck/go.mod has no `require k8s.io/kubernetes v1.x.y` line")
	}
	return string(m[1])
}

// skipOrFail skips, or fails when CI requires the real tools.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("NIXLAB_REQUIRE_TOOLS") == "1" {
		t.Fatalf(format+" (NIXLAB_REQUIRE_TOOLS=1)", args...)
	}
	t.Skipf(format+"; set NIXLAB_REQUIRE_TOOLS=1 to make this a failure", args...)
}

// realKubeadm returns the path of the real kubeadm at the pinned version,
// building it once per test binary.
func realKubeadm(t *testing.T) (path, version string) {
	t.Helper()
	version = pinnedKubernetesVersion(t)
	if testing.Short() && os.Getenv("NIXLAB_REQUIRE_TOOLS") != "1" && os.Getenv("NIXLAB_KUBEADM") == "" {
		t.Skip("-short: not building kubeadm")
	}
	kubeadmOnce.Do(func() { kubeadmPath, kubeadmErr = buildKubeadm(version) })
	if kubeadmErr != "" {
		skipOrFail(t, "cannot get the real kubeadm: %s", kubeadmErr)
	}
	out, err := exec.Command(kubeadmPath, "version", "-o", "short").Output()
	if err != nil {
		t.Fatalf("kubeadm version: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != version {
		t.Fatalf("kubeadm at %s reports %s, want the pinned %s", kubeadmPath, got, version)
	}
	return kubeadmPath, version
}

// buildKubeadm builds cmd/kubeadm with `go build -C tools/kubeadmcheck`
// into a directory that lives as long as the test process (removed by
// TestMain), stamping the release version the way Kubernetes' own build
// does (hack/lib/version.sh: -X k8s.io/component-base/version.gitVersion).
// It returns an error text instead of failing, so the caller decides
// between skip and fail.
func buildKubeadm(version string) (string, string) {
	if p := os.Getenv("NIXLAB_KUBEADM"); p != "" {
		return p, ""
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		// Not on PATH: the toolchain that built this test binary (`go
		// test` does not put GOROOT into the environment).
		root := runtime.GOROOT() //nolint:staticcheck // only a fallback
		goTool = filepath.Join(root, "bin", "go")
		if _, serr := os.Stat(goTool); root == "" || serr != nil {
			return "", "no go tool on PATH to build kubeadm with"
		}
	}
	dir, err := os.MkdirTemp("", "nixlab-kubeadm-")
	if err != nil {
		return "", err.Error()
	}
	kubeadmBuildDir = dir
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	minor := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	ldflags := strings.Join([]string{
		"-X k8s.io/component-base/version.gitVersion=" + version,
		"-X k8s.io/component-base/version.gitMajor=" + minor[0],
		"-X k8s.io/component-base/version.gitMinor=" + minor[1],
		"-X k8s.io/component-base/version.gitTreeState=clean",
	}, " ")
	out := filepath.Join(dir, "kubeadm")
	ctx, cancel := context.WithTimeout(context.Background(), kubeadmBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-C", filepath.Join(root, "tools", "kubeadmcheck"),
		"-ldflags", ldflags, "-o", out, "k8s.io/kubernetes/cmd/kubeadm")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", "go build k8s.io/kubernetes/cmd/kubeadm: " + err.Error() + ": " + lastLines(stderr.String(), 20)
	}
	return out, ""
}

// kubeadmBuildDir is removed after all tests.
var kubeadmBuildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if kubeadmBuildDir != "" {
		os.RemoveAll(kubeadmBuildDir)
	}
	os.Exit(code)
}

// lastLines is the tail of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubeadmValidate runs `kubeadm config validate --config <file>` on config
// and returns kubeadm's combined output and whether it succeeded. kubeadm
// never needs the network for an explicit kubernetesVersion; the proxy
// settings make sure any attempt fails on loopback instead of leaving the
// machine.
func kubeadmValidate(t *testing.T, kubeadm string, config []byte) (string, bool) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "kubeadm.yaml")
	if err := os.WriteFile(f, config, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubeadm, "config", "validate", "--config", f)
	cmd.Env = append(os.Environ(),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9",
		"https_proxy=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9", "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// withVersion replaces the placeholder as kube-init.sh does.
func withVersion(b []byte, version string) []byte {
	return bytes.ReplaceAll(b, []byte(VersionPlaceholder), []byte(version))
}

// TestRealKubeadmValidatesRenderedConfigs: every config nixlab renders for
// every cluster shape passes kubeadm's own validation.
func TestRealKubeadmValidatesRenderedConfigs(t *testing.T) {
	kubeadm, version := realKubeadm(t)
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			type rendered struct {
				what string
				b    []byte
			}
			var all []rendered
			initCfg, err := InitConfig(tc.spec, tc.first, testToken, testKey)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, rendered{"init " + tc.first, withVersion(initCfg, version)})
			for i, node := range append(append([]string{}, tc.joinCPs...), tc.workers...) {
				cp := i < len(tc.joinCPs)
				b, err := JoinConfig(tc.spec, node, cp, testToken, testCAHash, testKey)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, rendered{"join " + node, b})
			}
			tok, err := TokenConfig(tc.spec, testToken, testKey)
			if err != nil {
				t.Fatal(err)
			}
			// kubeadm defaults a missing ClusterConfiguration to version
			// "stable-1", which it would look up online; the nodes run
			// `token create` / `upload-certs` with that fallback, the test
			// pins the version instead and validates the same
			// InitConfiguration.
			all = append(all, rendered{"token", append(tok, []byte("---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: "+version+"\n")...)})
			for _, r := range all {
				out, ok := kubeadmValidate(t, kubeadm, r.b)
				if !ok || !strings.Contains(out, "ok") {
					t.Errorf("%s: kubeadm %s config validate failed:\n%s\nconfig:\n%s", r.what, version, out, r.b)
				}
			}
		})
	}
}

// TestRealKubeadmAgreesWithValidate: the rules ClusterSpec.Validate and
// the secret checks encode give the same verdict as kubeadm itself, for
// configs rendered without nixlab's validation. Each bad case also shows
// that the real-kubeadm test can fail.
func TestRealKubeadmAgreesWithValidate(t *testing.T) {
	kubeadm, version := realKubeadm(t)
	good := renderCases()[0].spec
	cases := []struct {
		name   string
		mutate func(*ClusterSpec)
		node   string
		token  string
		key    string
	}{
		{"good", func(*ClusterSpec) {}, "cp-1", testToken, testKey},
		{"pod cidr /8", func(s *ClusterSpec) { s.PodCIDR = "10.0.0.0/8"; s.ServiceCIDR = "172.16.0.0/12" }, "cp-1", testToken, testKey},
		{"pod cidr /24", func(s *ClusterSpec) { s.PodCIDR = "10.244.0.0/24" }, "cp-1", testToken, testKey},
		{"pod cidr /25", func(s *ClusterSpec) { s.PodCIDR = "10.244.0.0/25" }, "cp-1", testToken, testKey},
		{"pod cidr /7", func(s *ClusterSpec) { s.PodCIDR = "10.0.0.0/7"; s.ServiceCIDR = "172.16.0.0/12" }, "cp-1", testToken, testKey},
		{"service cidr /11", func(s *ClusterSpec) { s.ServiceCIDR = "10.96.0.0/11" }, "cp-1", testToken, testKey},
		{"service cidr /28", func(s *ClusterSpec) { s.ServiceCIDR = "10.96.0.0/28" }, "cp-1", testToken, testKey},
		{"service cidr /29", func(s *ClusterSpec) { s.ServiceCIDR = "10.96.0.0/29" }, "cp-1", testToken, testKey},
		{"not a cidr", func(s *ClusterSpec) { s.PodCIDR = "10.244.0.0" }, "cp-1", testToken, testKey},
		{"node name upper case", func(*ClusterSpec) {}, "CP_1", testToken, testKey},
		{"token upper case", func(*ClusterSpec) {}, "cp-1", "ABCDEF.0123456789abcdef", testKey},
		{"token short", func(*ClusterSpec) {}, "cp-1", "abcdef.0123456789", testKey},
		{"key 16 bytes", func(*ClusterSpec) {}, "cp-1", testToken, testKey[:32]},
		{"key not hex", func(*ClusterSpec) {}, "cp-1", testToken, "zz" + testKey[2:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := good
			tc.mutate(&spec)
			_, ourErr := InitConfig(spec, tc.node, tc.token, tc.key)
			b, err := initDocuments(spec, tc.node, tc.token, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			out, kubeadmOK := kubeadmValidate(t, kubeadm, withVersion(b, version))
			if (ourErr == nil) != kubeadmOK {
				t.Errorf("nixlab says %v, kubeadm %s says ok=%v:\n%s", ourErr, version, kubeadmOK, out)
			}
		})
	}
}

// TestRealKubeadmRejectsBrokenConfigs: kubeadm's strict decoding and
// validation catch what nixlab must never ship.
func TestRealKubeadmRejectsBrokenConfigs(t *testing.T) {
	kubeadm, version := realKubeadm(t)
	spec := renderCases()[0].spec
	initCfg, err := InitConfig(spec, "cp-1", testToken, testKey)
	if err != nil {
		t.Fatal(err)
	}
	joinCfg, err := JoinConfig(spec, "w-1", false, testToken, testCAHash, "")
	if err != nil {
		t.Fatal(err)
	}
	v := withVersion(initCfg, version)
	cases := []struct {
		name   string
		config []byte
		reason string // in kubeadm's error
	}{
		{"placeholder left in", initCfg, `version "` + VersionPlaceholder + `" doesn't match`},
		{"misspelt kubeadm field", bytes.Replace(v, []byte("podSubnet:"), []byte("podSubnett:"), 1), `unknown field "networking.podSubnett"`},
		{"misspelt kubelet field", bytes.Replace(v, []byte("cgroupDriver:"), []byte("cgroupDriverr:"), 1), `unknown field "cgroupDriverr"`},
		{"old api version", bytes.ReplaceAll(v, []byte("kubeadm.k8s.io/v1beta4"), []byte("kubeadm.k8s.io/v1beta2")), "old API spec"},
		{"join without ca hash", bytes.Replace(joinCfg, []byte("    - "+testCAHash+"\n"), nil, 1), "caCertHashes"},
		{"join endpoint without port", bytes.Replace(joinCfg, []byte(":6443"), nil, 1), "missing port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "placeholder left in" && (bytes.Equal(tc.config, v) || bytes.Equal(tc.config, joinCfg)) {
				t.Fatal("the mutation did not apply: the test would prove nothing")
			}
			out, ok := kubeadmValidate(t, kubeadm, tc.config)
			if ok {
				t.Fatalf("kubeadm %s accepted a broken config:\n%s\n%s", version, out, tc.config)
			}
			if !strings.Contains(out, tc.reason) {
				t.Errorf("kubeadm %s refused it, but not for %q:\n%s", version, tc.reason, out)
			}
		})
	}
}
