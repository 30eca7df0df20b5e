package components_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// nodeAddressFakeQm answers `qm status` (fails when $FAKE_QM_DIR/missing
// exists) and `qm guest cmd <id> network-get-interfaces` with the reports in
// $FAKE_QM_DIR/report.N, one per call (the last one sticks); a report named
// "down" means the agent does not answer.
const nodeAddressFakeQm = `
d="$FAKE_QM_DIR"
printf '%s\n' "$*" >>"$d/calls"
case "$1" in
  status)
    [[ ! -f "$d/missing" ]] || { echo "Configuration file 'nodes/pve/qemu-server/$2.conf' does not exist" >&2; exit 2; }
    echo "status: running"
    ;;
  guest)
    n="$(cat "$d/n" 2>/dev/null || echo 0)"
    f="$d/report.$n"
    if [[ -f "$f" ]]; then echo $((n + 1)) >"$d/n"; else f="$d/report.$((n - 1))"; fi
    if [[ "$(cat "$f")" == down ]]; then echo "QEMU guest agent is not running" >&2; exit 255; fi
    cat "$f"
    ;;
  *) echo "fake qm: unexpected: $*" >&2; exit 2 ;;
esac
`

// nodeAddressReport is an agent network-get-interfaces answer.
func nodeAddressReport(ifaces ...string) string {
	return "[" + strings.Join(ifaces, ",") + "]"
}

func nodeAddressIface(name string, addrs ...string) string {
	var list []string
	for _, a := range addrs {
		typ := "ipv4"
		if strings.Contains(a, ":") {
			typ = "ipv6"
		}
		list = append(list, `{"ip-address":"`+a+`","ip-address-type":"`+typ+`","prefix":24}`)
	}
	return `{"name":"` + name + `","hardware-address":"bc:24:11:00:00:01","ip-addresses":[` + strings.Join(list, ",") + `]}`
}

func nodeAddressRun(t *testing.T, reports []string, args ...string) (scriptResult, string) {
	t.Helper()
	return nodeAddressRunIn(t, t.TempDir(), reports, args...)
}

// nodeAddressRunIn runs the script with its fakes in dir (which may hold
// more fake state, such as "missing").
func nodeAddressRunIn(t *testing.T, dir string, reports []string, args ...string) (scriptResult, string) {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFake(t, bin, "qm", nodeAddressFakeQm)
	// Records and really sleeps: the script's deadline counts real time.
	testutil.WriteFake(t, bin, "sleep", `printf '%s\n' "$*" >>"$FAKE_QM_DIR/sleeps"
exec /bin/sleep "$1"`)
	for i, r := range reports {
		scriptWriteFile(t, filepath.Join(dir, "report."+string(rune('0'+i))), r)
	}
	testutil.RequireTool(t, "perl")
	env := []string{"PATH=" + testutil.PathWith(bin), "FAKE_QM_DIR=" + dir}
	return scriptRun(t, dir, env, "node-address.sh", args...), dir
}

func TestScriptNodeAddress_PicksTheLease(t *testing.T) {
	lo := nodeAddressIface("lo", "127.0.0.1", "::1")
	cases := []struct {
		name    string
		reports []string
		want    string
	}{
		{"lease right away", []string{nodeAddressReport(lo, nodeAddressIface("ens18", "192.168.1.77", "fe80::1"))}, "192.168.1.77"},
		{"skips link-local", []string{nodeAddressReport(lo, nodeAddressIface("ens18", "169.254.3.4", "10.0.0.9"))}, "10.0.0.9"},
		{"first usable interface wins", []string{nodeAddressReport(lo, nodeAddressIface("ens18", "10.0.0.5"), nodeAddressIface("cni0", "10.244.0.1"))}, "10.0.0.5"},
		{"waits out an IPv6-only report", []string{
			"down",
			nodeAddressReport(lo, nodeAddressIface("ens18", "2001:db8::5", "fe80::1")),
			nodeAddressReport(lo, nodeAddressIface("ens18", "2001:db8::5", "192.168.1.80")),
		}, "192.168.1.80"},
		{"loopback address elsewhere skipped", []string{nodeAddressReport(nodeAddressIface("dummy0", "127.0.0.2"), nodeAddressIface("ens18", "172.16.0.4"))}, "172.16.0.4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, _ := nodeAddressRun(t, c.reports, "9201", "60", "1")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if res.stdout != c.want+"\n" {
				t.Errorf("stdout %q, want exactly %q", res.stdout, c.want+"\n")
			}
		})
	}
}

func TestScriptNodeAddress_Timeout(t *testing.T) {
	cases := []struct {
		name, report, want string
	}{
		{"agent never answers", "down", "the guest agent did not answer"},
		{"only link-local and IPv6", nodeAddressReport(nodeAddressIface("lo", "127.0.0.1"), nodeAddressIface("ens18", "169.254.9.9", "fe80::2")), "ens18:169.254.9.9 ens18:fe80::2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res, dir := nodeAddressRun(t, []string{c.report}, "9201", "2", "1")
			if res.code != 1 || res.stdout != "" {
				t.Fatalf("exit %d stdout %q, want 1 and nothing", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, "VM 9201 reported no usable IPv4 address within 2 s", c.want, "DHCP")
			if n := strings.Count(scriptReadFile(t, filepath.Join(dir, "sleeps")), "1\n"); n < 1 || n > 3 {
				t.Errorf("polled after %d sleeps, want about two", n)
			}
			if took := time.Since(start); took > 6*time.Second {
				t.Errorf("a 2 s timeout took %s", took)
			}
		})
	}
}

func TestScriptNodeAddress_Errors(t *testing.T) {
	for _, args := range [][]string{{}, {"9201", "60"}, {"42", "60", "5"}, {"9201", "0", "5"}, {"9201", "60", "x"}, {"9201;reboot", "60", "5"}} {
		res, dir := nodeAddressRun(t, []string{"down"}, args...)
		if res.code != 2 || !strings.Contains(res.stderr, "usage:") {
			t.Errorf("args %q: exit %d, stderr %q", args, res.code, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "calls")); !os.IsNotExist(err) {
			t.Errorf("args %q: qm was called", args)
		}
	}
	dir := t.TempDir()
	scriptWriteFile(t, filepath.Join(dir, "missing"), "")
	res, _ := nodeAddressRunIn(t, dir, []string{"down"}, "9201", "60", "5")
	if res.code != 1 || !strings.Contains(res.stderr, "VM 9201 does not exist") {
		t.Errorf("missing VM: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestScriptNodeAddress_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "node-address.sh")
}
