package components_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixlab/nixlab/internal/testutil"
)

// nodeAddressFakeQm answers like Proxmox VE's qm (pve-manager 8.x,
// PVE::CLI::qm):
//   - `qm config <vmid>` prints $FAKE_QM_DIR/config (the VM's current
//     configuration, `key: value` lines sorted by key), or fails like the
//     real one for a VM that does not exist when that file is missing
//     (PVE::QemuConfig->load_config dies "Configuration file ... does not
//     exist", exit 2);
//   - `qm guest cmd <vmid> network-get-interfaces` prints the agent's answer
//     as pretty JSON: the reports $FAKE_QM_DIR/report.N, one per call (the
//     last one sticks); a report "down" is an agent that does not answer
//     (qm prints "QEMU guest agent is not running" and exits 255), "hang"
//     one whose call never returns.
const nodeAddressFakeQm = `
d="$FAKE_QM_DIR"
printf '%s\n' "$*" >>"$d/calls"
case "$1 ${4:-}" in
  "config ")
    [[ -f "$d/config" ]] || { echo "Configuration file 'nodes/pve/qemu-server/$2.conf' does not exist" >&2; exit 2; }
    cat "$d/config"
    ;;
  "guest network-get-interfaces")
    n="$(cat "$d/n" 2>/dev/null || echo 0)"
    f="$d/report.$n"
    if [[ -f "$f" ]]; then echo $((n + 1)) >"$d/n"; else f="$d/report.$((n - 1))"; fi
    if [[ "$(cat "$f")" == down ]]; then echo "QEMU guest agent is not running" >&2; exit 255; fi
    if [[ "$(cat "$f")" == hang ]]; then exec /bin/sleep 300; fi
    cat "$f"
    ;;
  *) echo "fake qm: unexpected: $*" >&2; exit 2 ;;
esac
`

// nodeAddressConfig is `qm config 9201` of a DHCP node cloned by nixlab, in
// the format of PVE's qm config (net0 as <model>=<MAC>,bridge=...).
const nodeAddressConfig = `agent: 1
boot: order=scsi0;ide2;net0
cores: 2
description: nixlab worker node nixlab-workers-2 (cloned from the NixOS template)
ide2: local-lvm:vm-9201-cloudinit,media=cdrom
ipconfig0: ip=dhcp
memory: 4096
meta: creation-qemu=9.0.2,ctime=1732900000
name: nixlab-workers-2
net0: virtio=BC:24:11:AA:BB:01,bridge=vmbr0,firewall=0
ostype: l26
scsi0: local-lvm:vm-9201-disk-0,iothread=1,size=20G
scsihw: virtio-scsi-single
smbios1: uuid=6b1d3a4e-0c53-4d1e-9a53-2f4c2d3e1a01
tags: nixlab;worker
vmgenid: 3f1c2b4a-8d5e-4b6f-9a7c-1e2d3c4b5a69
`

// net0MAC is nodeAddressConfig's net0 MAC as the guest agent spells it.
const net0MAC = "bc:24:11:aa:bb:01"

// qgaAddr is one GuestIpAddress of the QGA schema (qemu qga/qapi-schema.json).
type qgaAddr struct {
	ip     string
	prefix int
}

// nodeAddressIface renders one GuestNetworkInterface (qemu
// qga/qapi-schema.json: name, hardware-address, ip-addresses with
// ip-address, ip-address-type and prefix, statistics) as qm prints it.
func nodeAddressIface(name, mac string, addrs ...qgaAddr) string {
	var list []string
	for _, a := range addrs {
		typ := "ipv4"
		if strings.Contains(a.ip, ":") {
			typ = "ipv6"
		}
		list = append(list, fmt.Sprintf("         {\n            \"ip-address\" : %q,\n            \"ip-address-type\" : %q,\n            \"prefix\" : %d\n         }", a.ip, typ, a.prefix))
	}
	hw := ""
	if mac != "" {
		hw = fmt.Sprintf("      \"hardware-address\" : %q,\n", mac)
	}
	return fmt.Sprintf("   {\n%s      \"ip-addresses\" : [\n%s\n      ],\n      \"name\" : %q,\n      \"statistics\" : {\n         \"rx-bytes\" : 4826,\n         \"rx-dropped\" : 0,\n         \"rx-errs\" : 0,\n         \"rx-packets\" : 48,\n         \"tx-bytes\" : 4826,\n         \"tx-dropped\" : 0,\n         \"tx-errs\" : 0,\n         \"tx-packets\" : 48\n      }\n   }",
		hw, strings.Join(list, ",\n"), name)
}

// nodeAddressReport is an agent network-get-interfaces answer.
func nodeAddressReport(ifaces ...string) string {
	return "[\n" + strings.Join(ifaces, ",\n") + "\n]\n"
}

var (
	qgaLo      = nodeAddressIface("lo", "00:00:00:00:00:00", qgaAddr{"127.0.0.1", 8}, qgaAddr{"::1", 128})
	qgaDocker0 = nodeAddressIface("docker0", "02:42:5e:1a:0c:11", qgaAddr{"172.17.0.1", 16})
)

func nodeAddressRun(t *testing.T, reports []string, args ...string) (scriptResult, string) {
	t.Helper()
	dir := t.TempDir()
	scriptWriteFile(t, filepath.Join(dir, "config"), nodeAddressConfig)
	return nodeAddressRunIn(t, dir, reports, args...)
}

// nodeAddressRunIn runs the script with its fakes in dir (which holds the
// fake VM's config, or not).
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
		scriptWriteFile(t, filepath.Join(dir, fmt.Sprintf("report.%d", i)), r)
	}
	testutil.RequireTool(t, "perl")
	env := []string{"PATH=" + testutil.PathWith(bin), "FAKE_QM_DIR=" + dir}
	return scriptRun(t, dir, env, "node-address.sh", args...), dir
}

func TestScriptNodeAddress_PicksNet0Lease(t *testing.T) {
	ens18 := func(addrs ...qgaAddr) string { return nodeAddressIface("ens18", net0MAC, addrs...) }
	cases := []struct {
		name    string
		reports []string
		want    string
	}{
		{"lease right away", []string{nodeAddressReport(qgaLo, ens18(qgaAddr{"192.168.1.77", 24}, qgaAddr{"fe80::be24:11ff:feaa:bb01", 64}))}, "192.168.1.77"},
		// The case: docker0's address is reported first, the
		// lease a few polls later.
		{"docker0 before the lease", []string{
			nodeAddressReport(qgaLo, qgaDocker0, ens18()),
			nodeAddressReport(qgaLo, qgaDocker0, ens18(qgaAddr{"fe80::be24:11ff:feaa:bb01", 64})),
			nodeAddressReport(qgaLo, qgaDocker0, ens18(qgaAddr{"192.0.2.57", 24})),
		}, "192.0.2.57"},
		{"other interfaces listed first", []string{nodeAddressReport(qgaLo,
			nodeAddressIface("cni0", "5a:1b:2c:3d:4e:5f", qgaAddr{"10.244.0.1", 24}),
			nodeAddressIface("flannel.1", "7e:00:11:22:33:44", qgaAddr{"10.244.0.0", 32}),
			ens18(qgaAddr{"10.0.0.5", 24}))}, "10.0.0.5"},
		{"MAC compared case-insensitively", []string{nodeAddressReport(nodeAddressIface("ens18", strings.ToUpper(net0MAC), qgaAddr{"10.1.2.3", 16}))}, "10.1.2.3"},
		{"skips link-local on net0", []string{nodeAddressReport(qgaLo, ens18(qgaAddr{"169.254.3.4", 16}, qgaAddr{"10.0.0.9", 24}))}, "10.0.0.9"},
		{"lease preferred over a /32 VIP", []string{nodeAddressReport(qgaLo, ens18(qgaAddr{"192.168.1.10", 32}, qgaAddr{"192.168.1.21", 24}))}, "192.168.1.21"},
		{"bridge on top of the NIC has its MAC", []string{nodeAddressReport(qgaLo, ens18(), nodeAddressIface("br0", net0MAC, qgaAddr{"192.168.1.40", 24}))}, "192.168.1.40"},
		{"waits out an IPv6-only report", []string{
			"down",
			nodeAddressReport(qgaLo, ens18(qgaAddr{"2001:db8::5", 64}, qgaAddr{"fe80::1", 64})),
			nodeAddressReport(qgaLo, ens18(qgaAddr{"2001:db8::5", 64}, qgaAddr{"192.168.1.80", 24})),
		}, "192.168.1.80"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, dir := nodeAddressRun(t, c.reports, "9201", "60", "1")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if res.stdout != c.want+"\n" {
				t.Errorf("stdout %q, want exactly %q", res.stdout, c.want+"\n")
			}
			calls := scriptReadFile(t, filepath.Join(dir, "calls"))
			if want := "config 9201\n"; !strings.HasPrefix(calls, want) {
				t.Errorf("first qm call is not %q: %q", want, calls)
			}
			if n := strings.Count(calls, "guest cmd 9201 network-get-interfaces\n"); n != len(c.reports) {
				t.Errorf("%d agent calls, want %d (one per report until the lease)", n, len(c.reports))
			}
		})
	}
}

func TestScriptNodeAddress_MACForms(t *testing.T) {
	for _, tc := range []struct{ name, net0 string }{
		{"model=MAC", "net0: virtio=BC:24:11:AA:BB:01,bridge=vmbr0,firewall=0"},
		{"e1000 model", "net0: e1000=bc:24:11:aa:bb:01,bridge=vmbr0"},
		{"macaddr key", "net0: model=virtio,bridge=vmbr0,macaddr=BC:24:11:AA:BB:01,tag=20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := strings.Replace(nodeAddressConfig, "net0: virtio=BC:24:11:AA:BB:01,bridge=vmbr0,firewall=0", tc.net0, 1)
			// net1 is another NIC: its MAC must not be taken for net0's.
			cfg = strings.Replace(cfg, "ostype:", "net1: virtio=BC:24:11:00:00:99,bridge=vmbr1\nostype:", 1)
			scriptWriteFile(t, filepath.Join(dir, "config"), cfg)
			report := nodeAddressReport(qgaLo,
				nodeAddressIface("ens19", "bc:24:11:00:00:99", qgaAddr{"10.99.0.2", 24}),
				nodeAddressIface("ens18", net0MAC, qgaAddr{"192.0.2.57", 24}))
			res, _ := nodeAddressRunIn(t, dir, []string{report}, "9201", "60", "1")
			if res.code != 0 || res.stdout != "192.0.2.57\n" {
				t.Errorf("exit %d stdout %q, want 192.0.2.57", res.code, res.stdout)
			}
		})
	}
}

// TestScriptNodeAddress_Timeout: every never-ending wait ends at the
// timeout, in seconds.
func TestScriptNodeAddress_Timeout(t *testing.T) {
	cases := []struct {
		name   string
		report string
		wants  []string
	}{
		{"agent never answers", "down", []string{"the guest agent did not answer"}},
		{"agent call hangs", "hang", []string{"the guest agent did not answer within 3 s"}},
		{"only docker0 ever has IPv4", nodeAddressReport(qgaLo, qgaDocker0, nodeAddressIface("ens18", net0MAC, qgaAddr{"fe80::be24:11ff:feaa:bb01", 64})),
			[]string{"no usable IPv4 address on net0 (ens18 (bc:24:11:aa:bb:01): fe80::be24:11ff:feaa:bb01)", "other interfaces, not used: lo (00:00:00:00:00:00): 127.0.0.1 ::1; docker0 (02:42:5e:1a:0c:11): 172.17.0.1"}},
		{"only link-local on net0", nodeAddressReport(qgaLo, nodeAddressIface("ens18", net0MAC, qgaAddr{"169.254.9.9", 16})),
			[]string{"ens18 (bc:24:11:aa:bb:01): 169.254.9.9"}},
		{"no interface with net0's MAC", nodeAddressReport(qgaLo, nodeAddressIface("ens18", "bc:24:11:aa:bb:02", qgaAddr{"192.0.2.58", 24})),
			[]string{"no interface with net0 MAC bc:24:11:aa:bb:01; reported: lo (00:00:00:00:00:00): 127.0.0.1 ::1; ens18 (bc:24:11:aa:bb:02): 192.0.2.58"}},
		{"unreadable report", "{not json", []string{"the agent reported no readable report"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res, dir := nodeAddressRun(t, []string{c.report}, "9201", "3", "1")
			if res.code != 1 || res.stdout != "" {
				t.Fatalf("exit %d stdout %q, want 1 and nothing", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, append([]string{
				"VM 9201 reported no usable IPv4 address on net0 (MAC bc:24:11:aa:bb:01) within 3 s", "DHCP"}, c.wants...)...)
			if c.report == "hang" {
				// One call, cut at the deadline: no time left to sleep.
				if n := strings.Count(scriptReadFile(t, filepath.Join(dir, "calls")), "guest cmd"); n != 1 {
					t.Errorf("%d agent calls, want 1", n)
				}
			} else if n := strings.Count(scriptReadFile(t, filepath.Join(dir, "sleeps")), "1\n"); n < 1 || n > 4 {
				t.Errorf("polled after %d sleeps, want about three", n)
			}
			// Bounded by the deadline plus the kill grace of the last call;
			// generous, so a loaded machine does not fail it.
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("a 3 s timeout took %s", took)
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
	for _, tc := range []struct {
		name, config, want string
	}{
		{"missing VM", "", "VM 9201 does not exist"},
		{"no net0", strings.Replace(nodeAddressConfig, "net0: virtio=BC:24:11:AA:BB:01,bridge=vmbr0,firewall=0\n", "", 1), "VM 9201 has no net0 with a MAC address"},
		{"net0 without MAC", strings.Replace(nodeAddressConfig, "virtio=BC:24:11:AA:BB:01,", "", 1), "VM 9201 has no net0 with a MAC address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				scriptWriteFile(t, filepath.Join(dir, "config"), tc.config)
			}
			res, _ := nodeAddressRunIn(t, dir, []string{nodeAddressReport(qgaLo, qgaDocker0)}, "9201", "60", "5")
			if res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", res.code, res.stdout, res.stderr, tc.want)
			}
			if strings.Contains(scriptReadFile(t, filepath.Join(dir, "calls")), "guest") {
				t.Errorf("the agent was asked although the VM has no usable net0")
			}
		})
	}
}

func TestScriptNodeAddress_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "node-address.sh")
}
