package components

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// validGroupArgs are K8sNodeGroupArgs that pass check: a DHCP group of two
// workers with every required input set. Each case below changes one thing.
func validGroupArgs() K8sNodeGroupArgs {
	return K8sNodeGroupArgs{
		ClusterName:   "nixlab",
		Role:          RoleWorker,
		Count:         2,
		VMIDStart:     9200,
		NodeName:      pulumi.String("pve"),
		TemplateVMID:  9000,
		Template:      &pulumi.CustomResourceState{},
		SSHPublicKeys: pulumi.StringArray{pulumi.String("ssh-ed25519 AAAA")},
		SSHPrivateKey: pulumi.String("key"),
		AdminUser:     "nixos",
		Host:          ProxmoxHost{Address: "pve.test"},
	}
}

// staticArgs is validGroupArgs in static mode: count nodes from host offset
// of cidr, and no Proxmox host (static mode reads no leases).
func staticArgs(cidr string, offset, count int) func(*K8sNodeGroupArgs) {
	return func(a *K8sNodeGroupArgs) {
		a.Network = NodeNetwork{CIDR: cidr, Gateway: "10.0.0.1", HostOffset: offset}
		a.Count = count
		a.Host = ProxmoxHost{}
	}
}

// TestK8sNodeGroupArgsCheckBoundaries puts every rule of
// K8sNodeGroupArgs.check at its exact boundary (accepted) and one step past
// it (refused with an error naming the setting), so that an off-by-one or a
// dropped condition in any branch fails here.
func TestK8sNodeGroupArgsCheckBoundaries(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*K8sNodeGroupArgs)
		// want is a fragment of the error; empty means check passes.
		want string
		// notWant must not be in the error (a neighbouring node).
		notWant string
	}{
		{name: "valid", modify: func(*K8sNodeGroupArgs) {}},
		{name: "role control-plane", modify: func(a *K8sNodeGroupArgs) { a.Role = RoleControlPlane }},
		{name: "role empty", modify: func(a *K8sNodeGroupArgs) { a.Role = "" }, want: `Role "": use "control-plane" or "worker"`},
		{name: "role plural", modify: func(a *K8sNodeGroupArgs) { a.Role = "workers" }, want: `Role "workers"`},
		{name: "role wrong case", modify: func(a *K8sNodeGroupArgs) { a.Role = "Control-Plane" }, want: `Role "Control-Plane"`},

		{name: "count 0", modify: func(a *K8sNodeGroupArgs) { a.Count = 0 }},
		{name: "count -1", modify: func(a *K8sNodeGroupArgs) { a.Count = -1 }, want: "Count -1 is negative"},

		{name: "vmIdStart 100", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart = 100 }},
		{name: "vmIdStart 99", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart = 99 }, want: "VM IDs 99-100 are outside 100-999999999"},
		{name: "vmIdStart 99 count 0", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart, a.Count = 99, 0 }, want: "are outside 100-999999999"},
		{name: "last ID 999999999", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart = 999999998 }},
		{name: "last ID 1000000000", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart = 999999999 }, want: "VM IDs 999999999-1000000000 are outside 100-999999999"},
		// An empty group still reserves its start ID: it must be a valid ID.
		{name: "count 0 start 999999999", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart, a.Count = 999999999, 0 }},
		{name: "count 0 start 1000000000", modify: func(a *K8sNodeGroupArgs) { a.VMIDStart, a.Count = 1000000000, 0 }, want: "are outside 100-999999999"},

		{name: "cluster name empty", modify: func(a *K8sNodeGroupArgs) { a.ClusterName = "" }, want: "ClusterName and AdminUser are required"},
		{name: "admin user empty", modify: func(a *K8sNodeGroupArgs) { a.AdminUser = "" }, want: "ClusterName and AdminUser are required"},

		{name: "node name nil", modify: func(a *K8sNodeGroupArgs) { a.NodeName = nil }, want: "NodeName, Template, SSHPublicKeys and SSHPrivateKey are required"},
		{name: "template nil", modify: func(a *K8sNodeGroupArgs) { a.Template = nil }, want: "NodeName, Template, SSHPublicKeys and SSHPrivateKey are required"},
		{name: "template VM ID 100", modify: func(a *K8sNodeGroupArgs) { a.TemplateVMID = 100 }},
		{name: "template VM ID 99", modify: func(a *K8sNodeGroupArgs) { a.TemplateVMID = 99 }, want: "TemplateVMID 99 is outside 100-999999999: pass NixOSTemplate.VMID"},
		{name: "template VM ID unset", modify: func(a *K8sNodeGroupArgs) { a.TemplateVMID = 0 }, want: "TemplateVMID 0 is outside"},
		{name: "template VM ID 999999999", modify: func(a *K8sNodeGroupArgs) { a.TemplateVMID = 999999999 }},
		{name: "template VM ID 1000000000", modify: func(a *K8sNodeGroupArgs) { a.TemplateVMID = 1000000000 }, want: "TemplateVMID 1000000000 is outside"},
		{name: "public keys nil", modify: func(a *K8sNodeGroupArgs) { a.SSHPublicKeys = nil }, want: "NodeName, Template, SSHPublicKeys and SSHPrivateKey are required"},
		{name: "private key nil", modify: func(a *K8sNodeGroupArgs) { a.SSHPrivateKey = nil }, want: "NodeName, Template, SSHPublicKeys and SSHPrivateKey are required"},

		{name: "dhcp without host", modify: func(a *K8sNodeGroupArgs) { a.Host = ProxmoxHost{} }, want: "DHCP mode reads leases on the Proxmox host: Host.Address is empty"},
		{name: "static without host", modify: staticArgs("10.0.0.0/24", 10, 2)},

		// 10.0.0.0/24: usable hosts 1-254. Offset 250, 5 nodes: 250-254.
		{name: "static last host 254", modify: staticArgs("10.0.0.0/24", 250, 5)},
		{name: "static node 6 past 254", modify: staticArgs("10.0.0.0/24", 250, 6), want: "node 6: host 255 is outside 10.0.0.0/24 (usable hosts 1-254)", notWant: "node 5:"},
		{name: "static first host 1", modify: staticArgs("10.0.0.0/24", 1, 1)},
		{name: "static offset 0", modify: staticArgs("10.0.0.0/24", 0, 1), want: "node 1: host 0 is outside"},
		// /30: hosts 1-2, the smallest network accepted.
		{name: "static /30 two nodes", modify: staticArgs("10.0.0.0/30", 1, 2)},
		{name: "static /30 three nodes", modify: staticArgs("10.0.0.0/30", 1, 3), want: "node 3: host 3 is outside 10.0.0.0/30 (usable hosts 1-2)", notWant: "node 2:"},
		{name: "static /31", modify: staticArgs("10.0.0.0/31", 1, 1), want: "node 1: 10.0.0.0/31 is too small"},
		{name: "static not IPv4", modify: staticArgs("fd00::/64", 1, 1), want: `node 1: "fd00::/64" is not an IPv4 network`},
		// No nodes, no addresses to check.
		{name: "static count 0", modify: staticArgs("10.0.0.0/30", 5, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := validGroupArgs()
			tc.modify(&a)
			err := a.check("workers")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("check refused valid args: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed, want an error with %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "K8sNodeGroup workers: ") {
				t.Errorf("error %q does not name the group", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q lacks %q", msg, tc.want)
			}
			if tc.notWant != "" && strings.Contains(msg, tc.notWant) {
				t.Errorf("error %q reports %q, which fits", msg, tc.notWant)
			}
			// One change, one complaint: no other branch fires.
			if n := strings.Count(msg, "\n") + 1; n != 1 {
				t.Errorf("error has %d complaints, want 1: %q", n, msg)
			}
		})
	}
}

// Every error of one bad args value is reported at once, not only the first.
func TestK8sNodeGroupArgsCheckReportsAllErrors(t *testing.T) {
	a := validGroupArgs()
	a.Role, a.Count, a.ClusterName, a.SSHPrivateKey, a.Host = "db", -2, "", nil, ProxmoxHost{}
	err := a.check("g")
	if err == nil {
		t.Fatal("check passed")
	}
	for _, want := range []string{`Role "db"`, "Count -2 is negative", "ClusterName and AdminUser are required", "SSHPrivateKey are required", "Host.Address is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
