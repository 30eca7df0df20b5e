package stack

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/inventory"
)

// SSHKeyFile is where `nixlab ssh-key` writes the stack's private key and
// where the inventory tells Ansible to find it, relative to the project.
func SSHKeyFile(cfg *Config, stackName string) string {
	return filepath.Join(cfg.StateDir, stackName, "id_ed25519")
}

// KnownHostsFile is the known_hosts file of the stack's nodes: the inventory
// and the ssh command lines accept a new node's host key into it on first
// contact, away from the user's own ~/.ssh/known_hosts.
func KnownHostsFile(cfg *Config, stackName string) string {
	return filepath.Join(cfg.StateDir, stackName, "known_hosts")
}

// GroupOrder is the order the node groups are cloned (and listed) in:
// control planes first, then by name. Clones of one template are chained
// through this order.
func (c *Config) GroupOrder() []string {
	groups := c.NodeGroups
	names := sortedGroupNames(groups)
	sort.SliceStable(names, func(i, j int) bool {
		return groups[names[i]].Role == RoleControlPlane && groups[names[j]].Role != RoleControlPlane
	})
	return names
}

// deployNodeGroups clones every group from the template, one clone after the
// other across all groups.
func deployNodeGroups(ctx *pulumi.Context, cfg *Config, lab *Lab, opts []pulumi.ResourceOption) error {
	lab.NodeGroups = map[string]*components.K8sNodeGroup{}
	var after pulumi.Resource
	for _, name := range cfg.GroupOrder() {
		g, err := components.NewK8sNodeGroup(ctx, name, nodeGroupArgs(cfg, lab, name, after), opts...)
		if err != nil {
			return fmt.Errorf("nixlab:nodeGroups.%s: %w", name, err)
		}
		lab.NodeGroups[name] = g
		after = g.LastClone
	}
	return nil
}

// controlPlaneVMIDs are the VM IDs of every control plane in GroupOrder,
// node 1 first within a group: where the drains around VM updates run
// kubectl (components.VMUpdateDrain).
func (c *Config) controlPlaneVMIDs() []int {
	var out []int
	for _, name := range c.GroupOrder() {
		g := c.NodeGroups[name]
		if g.Role != RoleControlPlane {
			continue
		}
		for i := 0; i < g.Count; i++ {
			out = append(out, g.VMIDStart+i)
		}
	}
	return out
}

func nodeGroupArgs(cfg *Config, lab *Lab, name string, after pulumi.Resource) *components.K8sNodeGroupArgs {
	g := cfg.NodeGroups[name]
	args := &components.K8sNodeGroupArgs{
		ClusterName:   cfg.ClusterName,
		Role:          g.Role,
		Count:         g.Count,
		VMIDStart:     g.VMIDStart,
		Cores:         g.Cores,
		MemoryMB:      g.MemoryMB,
		DiskSizeGB:    g.DiskSizeGB,
		NodeName:      pulumi.String(cfg.Proxmox.Node),
		TemplateVMID:  lab.Template.VMID,
		Template:      lab.Template.Ready,
		VMStorage:     pulumi.String(cfg.Proxmox.VMStorage),
		Bridge:        pulumi.String(cfg.Proxmox.Bridge),
		AdminUser:     cfg.AdminUser,
		SSHPublicKeys: pulumi.StringArray{lab.SSHKey.PublicKeyOpenssh},
		SSHPrivateKey: lab.SSHKey.PrivateKeyOpenssh,
		Network: components.NodeNetwork{
			DNS:    cfg.Network.DNS,
			Domain: cfg.Network.Domain,
		},
		Host: lab.ProxmoxHost,
		Readiness: components.NodeReadiness{
			SwapExpected: swapGB(cfg) > 0,
		},
		CloneAfter: after,
	}
	if cfg.NFS != nil {
		args.Readiness.NFSMountPoint = cfg.NFS.MountPoint
	}
	if cps := cfg.controlPlaneVMIDs(); cfg.Kubernetes.IsEnabled() && len(cps) > 0 {
		args.VMUpdateDrain = &components.VMUpdateDrain{
			ControlPlaneVMIDs: cps,
			Timeout:           cfg.Updates.DrainTimeout(),
		}
	}
	if cfg.Network.Mode == NetworkStatic {
		args.Network.CIDR = cfg.Network.CIDR
		args.Network.Gateway = cfg.Network.Gateway
		args.Network.HostOffset = g.HostOffset
	}
	return args
}

// InventoryOptions are the connection settings every inventory of the stack
// carries: the admin user, the key file `nixlab ssh-key` writes, and the
// stack's own known_hosts file.
func InventoryOptions(cfg *Config, stackName string) inventory.Options {
	return inventory.Options{
		User:           cfg.AdminUser,
		PrivateKeyFile: SSHKeyFile(cfg, stackName),
		KnownHostsFile: KnownHostsFile(cfg, stackName),
	}
}

// inventories renders the Ansible inventories once every node's address is
// known (that is, after every readiness check passed).
func inventories(ctx *pulumi.Context, cfg *Config, lab *Lab) {
	var meta []inventory.Node
	var vals []any // per node: address, then login user
	for _, name := range cfg.GroupOrder() {
		for _, n := range lab.NodeGroups[name].Nodes {
			meta = append(meta, inventory.Node{Name: n.Name, Role: inventory.Role(n.Role), VMID: n.VMID})
			vals = append(vals, n.IPv4, n.User)
		}
	}
	opts := InventoryOptions(cfg, ctx.Stack())
	render := func(flavor inventory.Flavor, format inventory.Format) pulumi.StringOutput {
		return pulumi.All(vals...).ApplyT(func(v []any) (string, error) {
			return inventory.Render(inventoryNodes(meta, v, opts.User), opts, flavor, format)
		}).(pulumi.StringOutput)
	}
	lab.Inventory = render(inventory.FlavorNixlab, inventory.FormatINI)
	lab.InventoryYAML = render(inventory.FlavorNixlab, inventory.FormatYAML)
	lab.InventoryKubespray = render(inventory.FlavorKubespray, inventory.FormatINI)
}

// inventoryNodes fills each node's address and, when it differs from the
// admin user, its own login user, from vals (address, user per node).
func inventoryNodes(meta []inventory.Node, vals []any, admin string) []inventory.Node {
	nodes := make([]inventory.Node, len(meta))
	for i, n := range meta {
		n.IPv4 = vals[2*i].(string)
		if user := vals[2*i+1].(string); user != admin {
			n.User = user
		}
		nodes[i] = n
	}
	return nodes
}

// swapGB is the template's swap size after defaults.
func swapGB(cfg *Config) int {
	if cfg.Template.SwapSizeGB == nil {
		return DefaultSwapSizeGB
	}
	return *cfg.Template.SwapSizeGB
}
