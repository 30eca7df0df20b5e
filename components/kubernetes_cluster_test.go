package components

import (
	"context"
	"strings"
	"testing"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// testNode is a node with its VM and readiness check set (check only looks
// at their presence).
func testNode(name, role string) *Node {
	return &Node{Name: name, Role: role, VM: &vm.VirtualMachine{}, Ready: &remote.Command{}}
}

// validClusterArgs pass check: one control plane, two workers, flannel, NFS.
func validClusterArgs() KubernetesClusterArgs {
	cp := testNode("nixlab-control-plane-1", RoleControlPlane)
	return KubernetesClusterArgs{
		ClusterName:   "nixlab",
		ControlPlanes: []*Node{cp},
		Workers:       []*Node{testNode("nixlab-workers-1", RoleWorker), testNode("nixlab-workers-2", RoleWorker)},
		SSHPrivateKey: pulumi.String("key"),
		PodCIDR:       "10.244.0.0/16",
		ServiceCIDR:   "10.96.0.0/12",
		CNI:           CNIFlannel,
		Storage:       &ClusterStorage{Server: "192.168.1.4", Share: "/volume1/k8s", ClassName: "nfs", OnDelete: "delete"},
	}
}

// TestKubernetesClusterArgsCheck: each rule of check refuses its bad value
// with a message naming it, and passes the good one next to it.
func TestKubernetesClusterArgsCheck(t *testing.T) {
	for _, c := range []struct {
		name   string
		modify func(*KubernetesClusterArgs)
		want   string // "" = accepted
	}{
		{"valid", func(*KubernetesClusterArgs) {}, ""},
		{"no control plane", func(a *KubernetesClusterArgs) { a.ControlPlanes = nil }, "no control-plane node"},
		{"two control planes without endpoint", func(a *KubernetesClusterArgs) {
			a.ControlPlanes = append(a.ControlPlanes, testNode("nixlab-control-plane-2", RoleControlPlane))
		}, "needs an Endpoint"},
		{"two control planes with endpoint", func(a *KubernetesClusterArgs) {
			a.ControlPlanes = append(a.ControlPlanes, testNode("nixlab-control-plane-2", RoleControlPlane))
			a.Endpoint, a.VIP = "192.168.1.50", true
		}, ""},
		{"vip without endpoint", func(a *KubernetesClusterArgs) { a.VIP = true }, "VIP without an Endpoint"},
		{"no key", func(a *KubernetesClusterArgs) { a.SSHPrivateKey = nil }, "SSHPrivateKey is required"},
		{"cni empty defaults to flannel", func(a *KubernetesClusterArgs) { a.CNI = "" }, ""},
		{"cni calico", func(a *KubernetesClusterArgs) { a.CNI = CNICalico }, ""},
		{"cni none", func(a *KubernetesClusterArgs) { a.CNI = CNINone }, ""},
		{"cni cilium", func(a *KubernetesClusterArgs) { a.CNI = "cilium" }, `CNI "cilium"`},
		{"storage without server", func(a *KubernetesClusterArgs) { a.Storage.Server = "" }, "Storage needs Server"},
		{"storage onDelete keep", func(a *KubernetesClusterArgs) { a.Storage.OnDelete = "keep" }, `Storage.OnDelete "keep"`},
		{"storage onDelete archive", func(a *KubernetesClusterArgs) { a.Storage.OnDelete = "archive" }, ""},
		{"node listed twice", func(a *KubernetesClusterArgs) { a.Workers[1] = a.Workers[0] }, "listed twice"},
		{"node without readiness", func(a *KubernetesClusterArgs) { a.Workers[0].Ready = nil }, "readiness check"},
		{"overlapping CIDRs", func(a *KubernetesClusterArgs) { a.ServiceCIDR = "10.244.0.0/16" }, "overlaps"},
		{"bad cluster name", func(a *KubernetesClusterArgs) { a.ClusterName = "Lab_1" }, "cluster name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := validClusterArgs()
			c.modify(&a)
			err := a.withDefaults().check("k8s")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("accepted, want an error with %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q lacks %q", err, c.want)
			case err != nil && !strings.HasPrefix(err.Error(), "KubernetesCluster k8s: "):
				t.Errorf("error %q does not name the component", err)
			}
		})
	}
}

// TestRoleArg: the scripts take control-plane or worker.
func TestRoleArg(t *testing.T) {
	if roleArg(&Node{Role: RoleControlPlane}) != "control-plane" || roleArg(&Node{Role: RoleWorker}) != "worker" {
		t.Error("roleArg does not map the node roles onto the scripts' words")
	}
}

// TestStorageClassArgs: defaults and the optional fields.
func TestStorageClassArgs(t *testing.T) {
	args := storageClassArgs(&ClusterStorage{Server: "nas", Share: "/k8s", ClassName: "nfs", DefaultClass: false})
	params, err := internals.UnsafeAwaitOutput(context.Background(), args.Parameters.ToStringMapOutput())
	if err != nil {
		t.Fatal(err)
	}
	got := params.Value.(map[string]string)
	if got["onDelete"] != "delete" || got["server"] != "nas" || got["share"] != "/k8s" {
		t.Errorf("parameters %v", got)
	}
	if _, ok := got["subDir"]; ok {
		t.Error("an empty subDir is sent (the driver would use it)")
	}
	if args.MountOptions != nil {
		t.Error("mountOptions without options")
	}
}
