package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/inventory"
)

const testToken = "root@pam!nixlab=01234567-89ab-cdef-0123-456789abcdef"

// labLookup reads Pulumi.lab.yaml and adds the API token (which the real
// file holds encrypted).
func labLookup(t *testing.T, overrides map[string]string) LookupFunc {
	t.Helper()
	sf, err := ReadStackFile(filepath.Join("..", "Pulumi.lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	values := sf.Values()
	values["nixlab:apiToken"] = testToken
	for k, v := range overrides {
		if v == "" {
			delete(values, k)
		} else {
			values[k] = v
		}
	}
	return func(key string) (string, bool) {
		v, ok := values[key]
		return v, ok
	}
}

func TestLabStackFileIsValid(t *testing.T) {
	cfg, err := ParseConfig(labLookup(t, nil))
	if err != nil {
		t.Fatalf("Pulumi.lab.yaml does not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"endpoint", cfg.Proxmox.Endpoint, "https://192.168.1.5:8006/"},
		{"node", cfg.Proxmox.Node, "pve"},
		{"ssh host", cfg.Proxmox.SSH.Host, "192.168.1.5"},
		{"ssh user", cfg.Proxmox.SSH.User, "root"},
		{"iso storage", cfg.Proxmox.ISOStorage, "local"},
		{"vm storage", cfg.Proxmox.VMStorage, "local-lvm"},
		{"bridge", cfg.Proxmox.Bridge, "vmbr0"},
		{"template vmId", cfg.Template.VMID, 9000},
		{"template disk", cfg.Template.DiskSizeGB, 20},
		{"nfs server", cfg.NFS.Server, "192.168.1.4"},
		{"nfs export", cfg.NFS.Export, "/volume1/k8s-cluster-storage"},
		{"nfs mount", cfg.NFS.MountPoint, "/mnt/nfs"},
		{"nfs default options", strings.Join(cfg.NFS.Options, ","), strings.Join(DefaultNFSOptions, ",")},
		{"control planes", cfg.NodeGroups["control-plane"].Count, 1},
		{"workers", cfg.NodeGroups["workers"].Count, 2},
		{"admin", cfg.AdminUser, "nixos"},
		{"token", cfg.APIToken.Reveal(), testToken},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultsFillAbsentKeys(t *testing.T) {
	cfg, err := ParseConfig(labLookup(t, map[string]string{
		"nixlab:template":    "",
		"nixlab:network":     "",
		"nixlab:adminUser":   "",
		"nixlab:clusterName": "",
		"nixlab:proxmox":     `{"endpoint":"https://pve.lab.example:8006","node":"pve"}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Template.VMID != DefaultTemplateVMID || cfg.Template.DiskSizeGB != 20 || *cfg.Template.SwapSizeGB != DefaultSwapSizeGB {
		t.Errorf("template defaults not applied: %+v", cfg.Template)
	}
	if cfg.Proxmox.SSH.Host != "pve.lab.example" || cfg.Proxmox.SSH.Port != 22 || cfg.Proxmox.SSH.User != "root" {
		t.Errorf("ssh defaults not derived from the endpoint: %+v", cfg.Proxmox.SSH)
	}
	if cfg.Proxmox.VMStorage != "local-lvm" || cfg.Proxmox.ISOStorage != "local" || cfg.Proxmox.Bridge != "vmbr0" {
		t.Errorf("proxmox defaults not applied: %+v", cfg.Proxmox)
	}
	if cfg.Network.Mode != NetworkDHCP || cfg.AdminUser != "nixos" || cfg.ClusterName != "nixlab" {
		t.Errorf("top-level defaults not applied: %+v %q %q", cfg.Network, cfg.AdminUser, cfg.ClusterName)
	}
}

func TestEmptyNFSMeansNone(t *testing.T) {
	for _, v := range []string{"", "{}"} {
		// The lab's storage class needs NFS: without NFS, no storage.
		cfg, err := ParseConfig(labLookup(t, map[string]string{"nixlab:nfs": v, "nixlab:kubernetes": `{"cni":"flannel"}`}))
		if err != nil {
			t.Fatalf("nfs %q: %v", v, err)
		}
		if cfg.NFS != nil {
			t.Errorf("nfs %q gave an NFS mount: %+v", v, cfg.NFS)
		}
	}
	if _, err := ParseConfig(labLookup(t, map[string]string{"nixlab:nfs": "null"})); err == nil || !strings.Contains(err.Error(), "nixlab:nfs: has no value") {
		t.Errorf("nfs null: %v", err)
	}
	if _, err := ParseConfig(labLookup(t, map[string]string{"nixlab:nfs": `{"mountPoint":"/mnt/x"}`})); err == nil || !strings.Contains(err.Error(), "nixlab:nfs.server") {
		t.Errorf("a mount point without a server: %v", err)
	}
}

func TestExplicitZeroSwapIsKept(t *testing.T) {
	cfg, err := ParseConfig(labLookup(t, map[string]string{"nixlab:template": `{"swapSizeGb":0}`}))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Template.SwapSizeGB != 0 {
		t.Errorf("swapSizeGb 0 became %d", *cfg.Template.SwapSizeGB)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	proxmox := func(extra string) string {
		return `{"endpoint":"https://192.168.1.5:8006/","node":"pve"` + extra + `}`
	}
	cases := []struct {
		name      string
		overrides map[string]string
		key       string
		fix       string // part of the message that tells the fix
	}{
		{"negative disk size", map[string]string{"nixlab:template": `{"diskSizeGb":-5}`}, "nixlab:template.diskSizeGb", "use 8 to"},
		{"template VM ID too low", map[string]string{"nixlab:template": `{"vmId":99}`}, "nixlab:template.vmId", "use 100 to 999999999"},
		{"template VM ID too high", map[string]string{"nixlab:template": `{"vmId":1000000000}`}, "nixlab:template.vmId", "use 100 to 999999999"},
		{"malformed endpoint", map[string]string{"nixlab:proxmox": `{"endpoint":"192.168.1.5:8006","node":"pve"}`}, "nixlab:proxmox.endpoint", "https://"},
		{"http endpoint", map[string]string{"nixlab:proxmox": `{"endpoint":"http://192.168.1.5:8006/","node":"pve"}`}, "nixlab:proxmox.endpoint", "https://"},
		{"missing node", map[string]string{"nixlab:proxmox": `{"endpoint":"https://192.168.1.5:8006/"}`}, "nixlab:proxmox.node", "pvesh get /nodes"},
		{"missing endpoint", map[string]string{"nixlab:proxmox": `{"node":"pve","ssh":{"host":"192.168.1.5"}}`}, "nixlab:proxmox.endpoint", "is not set"},
		{"bad NFS export path", map[string]string{"nixlab:nfs": `{"server":"192.168.1.4","export":"volume1/k8s"}`}, "nixlab:nfs.export", "is not absolute (it does not start with '/'); use /volume1/k8s"},
		{"NFS export with trailing slash", map[string]string{"nixlab:nfs": `{"server":"192.168.1.4","export":"/volume1/k8s/"}`}, "nixlab:nfs.export", "ends in '/'; remove the trailing slash: /volume1/k8s"},
		{"NFS export with //", map[string]string{"nixlab:nfs": `{"server":"192.168.1.4","export":"/volume1//k8s"}`}, "nixlab:nfs.export", "holds '//'; use single slashes: /volume1/k8s"},
		{"NFS export with a space", map[string]string{"nixlab:nfs": `{"server":"192.168.1.4","export":"/volume 1/k8s"}`}, "nixlab:nfs.export", "may not have"},
		{"NFS mount point with trailing slash", map[string]string{"nixlab:nfs": `{"server":"nas","export":"/v","mountPoint":"/mnt/nfs/"}`}, "nixlab:nfs.mountPoint", "remove the trailing slash: /mnt/nfs"},
		{"NFS mount point relative", map[string]string{"nixlab:nfs": `{"server":"nas","export":"/v","mountPoint":"mnt/nfs"}`}, "nixlab:nfs.mountPoint", "use /mnt/nfs"},
		{"NFS server with spaces", map[string]string{"nixlab:nfs": `{"server":"nas box","export":"/v"}`}, "nixlab:nfs.server", "host name or IP"},
		{"NFS mount on /etc", map[string]string{"nixlab:nfs": `{"server":"nas","export":"/v","mountPoint":"/etc"}`}, "nixlab:nfs.mountPoint", "system directory"},
		{"obsolete NFS option", map[string]string{"nixlab:nfs": `{"server":"nas","export":"/v","options":["hard","intr"]}`}, "nixlab:nfs.options[1]", "remove it"},
		{"NFS options in one string", map[string]string{"nixlab:nfs": `{"server":"nas","export":"/v","options":["hard, nfsvers=4"]}`}, "nixlab:nfs.options[0]", "one option per list item"},
		{"swap bigger than allowed", map[string]string{"nixlab:template": `{"swapSizeGb":100}`}, "nixlab:template.swapSizeGb", "0 = no swap"},
		{"swap leaves no root", map[string]string{"nixlab:template": `{"diskSizeGb":10,"swapSizeGb":8}`}, "nixlab:template.swapSizeGb", "lower the swap"},
		{"install timeout too short", map[string]string{"nixlab:template": `{"installTimeoutMinutes":1}`}, "nixlab:template.installTimeoutMinutes", "5 to 720"},
		{"installer memory too small", map[string]string{"nixlab:template": `{"memoryMb":512}`}, "nixlab:template.memoryMb", "runs from RAM"},
		{"prebuilt ISO missing", map[string]string{"nixlab:template": `{"isoPath":"/nonexistent/nixlab.iso"}`}, "nixlab:template.isoPath", "does not exist"},
		{"extra module not nix", map[string]string{"nixlab:template": `{"extraModules":["` + dir + `"]}`}, "nixlab:template.extraModules[0]", ".nix"},
		{"missing API token", map[string]string{"nixlab:apiToken": ""}, "nixlab:apiToken", "pulumi config set --secret"},
		{"malformed API token", map[string]string{"nixlab:apiToken": "root@pam:secret"}, "nixlab:apiToken", "user@realm!tokenid=uuid"},
		{"admin user root", map[string]string{"nixlab:adminUser": "root"}, "nixlab:adminUser", "ordinary name"},
		{"bad time zone", map[string]string{"nixlab:timezone": "Europe Berlin"}, "nixlab:timezone", "Europe/Berlin"},
		{"bad extra key", map[string]string{"nixlab:extraAuthorizedKeys": `["not a key"]`}, "nixlab:extraAuthorizedKeys[0]", "ssh-ed25519"},
		{"bad storage", map[string]string{"nixlab:proxmox": proxmox(`,"vmStorage":"local lvm"`)}, "nixlab:proxmox.vmStorage", "storage ID"},
		{"bad ssh port", map[string]string{"nixlab:proxmox": proxmox(`,"ssh":{"port":70000}`)}, "nixlab:proxmox.ssh.port", "1 to 65535"},
		{"ssh key file missing", map[string]string{"nixlab:proxmox": proxmox(`,"ssh":{"privateKeyFile":"/nonexistent/id"}`)}, "nixlab:proxmox.ssh.privateKeyFile", "does not exist"},
		{"bad host key", map[string]string{"nixlab:proxmox": proxmox(`,"ssh":{"hostKey":"AAAA"}`)}, "nixlab:proxmox.ssh.hostKey", "ssh_host_ed25519_key.pub"},
		{"typo in a setting", map[string]string{"nixlab:template": `{"diskSize":30}`}, "nixlab:template.diskSize", `unknown setting; did you mean diskSizeGb?`},
		{"typo in a nested setting", map[string]string{"nixlab:proxmox": proxmox(`,"ssh":{"prot":22}`)}, "nixlab:proxmox.ssh.prot", `unknown setting; did you mean port?`},
		{"string for a number", map[string]string{"nixlab:template": `{"vmId":"9000"}`}, "nixlab:template.vmId", "expected a number, got a string"},
		{"unknown network mode", map[string]string{"nixlab:network": `{"mode":"bootp"}`}, "nixlab:network.mode", "dhcp or static"},
		{"static without cidr", map[string]string{"nixlab:network": `{"mode":"static","gateway":"192.168.1.1"}`}, "nixlab:network.cidr", "is required when network.mode is static"},
		{"gateway outside cidr", map[string]string{"nixlab:network": `{"mode":"static","cidr":"10.0.0.0/24","gateway":"192.168.1.1"}`}, "nixlab:network.gateway", "outside network.cidr"},
		{"bad dns server", map[string]string{"nixlab:network": `{"mode":"dhcp","dns":["dns.example"]}`}, "nixlab:network.dns[0]", "IP address"},
		{"unknown role", map[string]string{"nixlab:nodeGroups": `{"w":{"role":"etcd","count":1,"vmIdStart":9300}}`}, "nixlab:nodeGroups.w.role", "control-plane or worker"},
		{"group range holds template", map[string]string{"nixlab:nodeGroups": `{"w":{"role":"worker","count":3,"vmIdStart":8999}}`}, "nixlab:nodeGroups.w.vmIdStart", "template's VM ID 9000"},
		{"group disk smaller than template", map[string]string{"nixlab:nodeGroups": `{"w":{"role":"worker","count":1,"vmIdStart":9300,"diskSizeGb":10}}`}, "nixlab:nodeGroups.w.diskSizeGb", "can only grow"},
		{"bad cluster name", map[string]string{"nixlab:clusterName": "My_Lab"}, "nixlab:clusterName", "lower-case"},
		{"negative count", map[string]string{"nixlab:nodeGroups": groups(`"workers":{"role":"worker","count":-1,"vmIdStart":9200}`)}, "nixlab:nodeGroups.workers.count", "use 0 to 100"},
		{"no control plane", map[string]string{"nixlab:nodeGroups": `{"workers":{"role":"worker","count":2,"vmIdStart":9200}}`}, "nixlab:nodeGroups", "no control-plane node"},
		{"control plane scaled to zero", map[string]string{"nixlab:nodeGroups": `{"cp":{"role":"control-plane","count":0,"vmIdStart":9100}}`}, "nixlab:nodeGroups", "role: control-plane"},
		{"group name not a DNS label", map[string]string{"nixlab:nodeGroups": groups(`"Big_Workers":{"role":"worker","count":1,"vmIdStart":9300}`)}, "nixlab:nodeGroups.Big_Workers", "DNS label"},
		{"overlapping VM ID ranges", map[string]string{"nixlab:nodeGroups": groups(`"workers":{"role":"worker","count":2,"vmIdStart":9100}`)}, "nixlab:nodeGroups.workers.vmIdStart", "overlap group control-plane"},
		{"VM ID range past the limit", map[string]string{"nixlab:nodeGroups": groups(`"workers":{"role":"worker","count":5,"vmIdStart":999999998}`)}, "nixlab:nodeGroups.workers.vmIdStart", "out of range"},
		{"memory too small", map[string]string{"nixlab:nodeGroups": groups(`"workers":{"role":"worker","count":1,"vmIdStart":9200,"memoryMb":256}`)}, "nixlab:nodeGroups.workers.memoryMb", "1024 to"},
		{"too many cores", map[string]string{"nixlab:nodeGroups": groups(`"workers":{"role":"worker","count":1,"vmIdStart":9200,"cores":512}`)}, "nixlab:nodeGroups.workers.cores", "1 to 128"},
		{"VM name too long", map[string]string{"nixlab:clusterName": strings.Repeat("a", 40), "nixlab:nodeGroups": groups(`"workers-with-long-nm":{"role":"worker","count":10,"vmIdStart":9200}`)}, "nixlab:nodeGroups.workers-with-long-nm", "63 characters"},
		{"hostOffset in dhcp mode", map[string]string{"nixlab:nodeGroups": groups(`"workers":{"role":"worker","count":1,"vmIdStart":9200,"hostOffset":30}`)}, "nixlab:nodeGroups.workers.hostOffset", "static"},
		{"static address outside the CIDR", staticLab(`"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":3,"vmIdStart":9200,"hostOffset":253}`), "nixlab:nodeGroups.workers.hostOffset", "outside 192.168.1.0/24"},
		{"static without offset", staticLab(`"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100}`), "nixlab:nodeGroups.control-plane.hostOffset", "is required when network.mode is static"},
		{"static addresses overlap", staticLab(`"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":2,"vmIdStart":9200,"hostOffset":22}`), "nixlab:nodeGroups.workers.hostOffset", "overlap group control-plane"},
		{"static address is the gateway", staticLab(`"control-plane":{"role":"control-plane","count":2,"vmIdStart":9100,"hostOffset":1}`), "nixlab:nodeGroups.control-plane.hostOffset", "include the gateway 192.168.1.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(labLookup(t, c.overrides))
			if err == nil {
				t.Fatalf("config accepted; want an error for %s", c.key)
			}
			var found bool
			for _, e := range unwrapAll(err) {
				var ke *KeyError
				if errors.As(e, &ke) && ke.Key == c.key {
					found = true
					if !strings.Contains(ke.Msg, c.fix) {
						t.Errorf("message for %s = %q, want it to contain %q", c.key, ke.Msg, c.fix)
					}
				}
			}
			if !found {
				t.Errorf("no error names %s; got:\n%v", c.key, err)
			}
		})
	}
}

// groups returns a nodeGroups value with the lab's control plane plus more.
func groups(more string) string {
	return `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100},` + more + `}`
}

// staticLab sets static addressing on 192.168.1.0/24 with the given groups.
func staticLab(groups string) map[string]string {
	return map[string]string{
		"nixlab:network":    `{"mode":"static","cidr":"192.168.1.0/24","gateway":"192.168.1.1"}`,
		"nixlab:nodeGroups": "{" + groups + "}",
	}
}

func TestStaticLabAccepted(t *testing.T) {
	lab := staticLab(`"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":10,"vmIdStart":9200,"hostOffset":31}`)
	lab["nixlab:kubernetes"] = `{"controlPlaneEndpoint":"192.168.1.20"}`
	cfg, err := ParseConfig(labLookup(t, lab))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeGroups["workers"].HostOffset != 31 {
		t.Fatalf("hostOffset lost: %+v", cfg.NodeGroups["workers"])
	}
	if host, vip := cfg.KubernetesEndpoint(); host != "192.168.1.20" || !vip {
		t.Errorf("endpoint %q vip %v, want 192.168.1.20 as a VIP", host, vip)
	}
}

func TestCheckKeys(t *testing.T) {
	if err := CheckKeys([]string{"nixlab:proxmox", "nixlab:nodeGroups", "proxmoxve:endpoint"}); err != nil {
		t.Errorf("known keys refused: %v", err)
	}
	err := CheckKeys([]string{"nixlab:nodeGroup", "nixlab:proxmox", "nixlab:wholeNewThing"})
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{"nixlab:nodeGroup: is not a nixlab setting; did you mean nixlab:nodeGroups?", "nixlab:wholeNewThing: is not a nixlab setting (see"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	const bad = "root@pam!nixlab=not-a-uuid-but-secret"
	_, err := ParseConfig(labLookup(t, map[string]string{"nixlab:apiToken": bad}))
	if err == nil {
		t.Fatal("malformed token accepted")
	}
	if strings.Contains(err.Error(), "not-a-uuid-but-secret") {
		t.Fatalf("error message leaks the token: %v", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{s.String(), s.GoString(), fmtAll(s)} {
		if strings.Contains(got, "hunter2") {
			t.Fatalf("secret printed: %q", got)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	_, err := ParseConfig(labLookup(t, map[string]string{
		"nixlab:template":  `{"vmId":5,"diskSizeGb":-1}`,
		"nixlab:adminUser": "root",
	}))
	if n := len(unwrapAll(err)); n < 3 {
		t.Fatalf("got %d errors, want at least 3: %v", n, err)
	}
}

func TestExtraModuleAccepted(t *testing.T) {
	module := filepath.Join(t.TempDir(), "extra.nix")
	if err := os.WriteFile(module, []byte("{ ... }: { }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(labLookup(t, map[string]string{"nixlab:template": `{"extraModules":["` + module + `"]}`}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Template.ExtraModules) != 1 {
		t.Fatalf("extra modules = %v", cfg.Template.ExtraModules)
	}
}

func fmtAll(s Secret) string {
	return fmt.Sprintf("%v %s %q %+v %#v %d", s, s, s, s, s, s)
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestInventoryNodesKeepEachNodesUser(t *testing.T) {
	meta := []inventory.Node{{Name: "a", Role: inventory.RoleWorker, VMID: 9200}, {Name: "b", Role: inventory.RoleWorker, VMID: 9201}}
	nodes := inventoryNodes(meta, []any{"10.0.0.1", "nixos", "10.0.0.2", "ops"}, "nixos")
	if nodes[0].User != "" || nodes[0].IPv4 != "10.0.0.1" {
		t.Errorf("node a = %+v, want the group's user and its address", nodes[0])
	}
	if nodes[1].User != "ops" || nodes[1].IPv4 != "10.0.0.2" {
		t.Errorf("node b = %+v, want its own user ops", nodes[1])
	}
	if meta[1].User != "" {
		t.Error("the input nodes were modified")
	}
}

// Static mode reports every missing setting at once, each as required,
// and refuses a network with host bits set, naming the network address.
func TestStaticModeMessages(t *testing.T) {
	cp := `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100}}`
	for _, tt := range []struct {
		name    string
		network string
		want    map[string]string // key -> part of its message
	}{
		{"nothing but the mode", `{"mode":"static"}`, map[string]string{
			"nixlab:network.cidr":                        "is required when network.mode is static",
			"nixlab:network.gateway":                     "is required when network.mode is static",
			"nixlab:nodeGroups.control-plane.hostOffset": "is required when network.mode is static",
		}},
		{"no cidr, bad gateway", `{"mode":"static","gateway":"router"}`, map[string]string{
			"nixlab:network.cidr":                        "is required when network.mode is static",
			"nixlab:network.gateway":                     `"router" is not an IPv4 address`,
			"nixlab:nodeGroups.control-plane.hostOffset": "e.g. hostOffset: 10",
		}},
		{"host bits set", `{"mode":"static","cidr":"192.168.1.7/24","gateway":"192.168.1.1"}`, map[string]string{
			"nixlab:network.cidr": `"192.168.1.7/24" has host bits set; use 192.168.1.0/24`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(labLookup(t, map[string]string{"nixlab:network": tt.network, "nixlab:nodeGroups": cp}))
			for key, want := range tt.want {
				if msg := errorFor(err, key); !strings.Contains(msg, want) {
					t.Errorf("%s: message %q lacks %q; all:\n%v", key, msg, want, err)
				}
			}
			if err != nil && (strings.Contains(err.Error(), `"" is not`) || strings.Contains(err.Error(), "hosts 0-0")) {
				t.Errorf("message about an empty value:\n%v", err)
			}
		})
	}
}

// A value of the wrong type does not hide the value checks of other keys,
// and checks that depend on the undecoded key are left out.
func TestTypeErrorDoesNotHideValueErrors(t *testing.T) {
	_, err := ParseConfig(labLookup(t, map[string]string{
		"nixlab:template":  `{"vmId":"9000"}`,
		"nixlab:timezone":  "Mars/Olympus",
		"nixlab:network":   `{"mode":"static","cidr":"192.168.1.7/24"}`,
		"nixlab:proxmox":   `{"endpoint":"https://192.168.1.5:8006/","node":"pve","ssh":{"port":"22x"}}`,
		"nixlab:adminUser": "root",
	}))
	for key, want := range map[string]string{
		"nixlab:template.vmId":    "expected a number",
		"nixlab:proxmox.ssh.port": "expected a number",
		"nixlab:timezone":         "not a known time zone",
		"nixlab:network.cidr":     "host bits set",
		"nixlab:network.gateway":  "is required when network.mode is static",
		"nixlab:adminUser":        "root cannot be the admin user",
	} {
		if msg := errorFor(err, key); !strings.Contains(msg, want) {
			t.Errorf("%s: %q lacks %q; all:\n%v", key, msg, want, err)
		}
	}
	// nodeGroups are checked against the template, which is undecoded.
	for _, e := range keyErrors(err) {
		if strings.HasPrefix(e.Key, "nixlab:nodeGroups") || strings.HasPrefix(e.Key, "nixlab:proxmox.node") {
			t.Errorf("error from an undecoded or dependent key: %v", e)
		}
	}
}
