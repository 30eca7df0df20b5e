package components

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// K8sNodeGroupType is the Pulumi type token of the component.
const K8sNodeGroupType = "nixlab:index:K8sNodeGroup"

// Node roles.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// Defaults of K8sNodeGroupArgs.
const (
	DefaultNodeCores        = 2
	DefaultNodeMemoryMB     = 4096
	DefaultCloneRetries     = 3
	DefaultAgentTimeout     = "5m"
	DefaultReadinessTimeout = 10 * time.Minute
	// DefaultAddressTimeout bounds the wait for a DHCP node's IPv4 lease.
	DefaultAddressTimeout = 5 * time.Minute
	addressPoll           = 5 * time.Second
)

// NodeNetwork says how a group's nodes get their IPv4 address by
// cloud-init: DHCP when CIDR is empty, else host HostOffset+i-1 of CIDR.
type NodeNetwork struct {
	CIDR       string
	Gateway    string
	HostOffset int
	DNS        []string
	Domain     string
}

// NodeReadiness is what the readiness check on each node verifies beyond
// cloud-init, containerd, kernel modules and sysctls.
type NodeReadiness struct {
	// NFSMountPoint is checked to be an NFS mount; empty skips the check.
	NFSMountPoint string
	// SwapExpected says the template has swap (and the kubelet tolerates
	// it); false means no swap may be active.
	SwapExpected bool
	// Timeout bounds the wait for cloud-init; default 10 minutes.
	Timeout time.Duration
}

// K8sNodeGroupArgs configure a group of identical nodes. Counts, IDs and
// sizes shape the graph and are plain values; the template, storage, bridge
// and keys may come from other resources.
type K8sNodeGroupArgs struct {
	// ClusterName prefixes VM names: <ClusterName>-<group>-<i>.
	ClusterName string
	// Role is RoleControlPlane or RoleWorker.
	Role string
	// Count is the number of nodes; node i (1-based) gets VM ID
	// VMIDStart+i-1. Scaling down removes the highest numbers.
	Count     int
	VMIDStart int
	// Cores, MemoryMB and DiskSizeGB size each node; the disk grows the
	// template's (it cannot shrink).
	Cores      int
	MemoryMB   int
	DiskSizeGB int
	// NodeName is the Proxmox node that holds the template and the clones.
	NodeName pulumi.StringInput
	// TemplateVmId is the template to clone; pass NixOSTemplate.TemplateVmId
	// so that every clone waits for the template conversion.
	TemplateVmId pulumi.IntInput
	// VMStorage holds the clone disks and cloud-init drives.
	VMStorage pulumi.StringInput
	// Bridge for the node NICs.
	Bridge pulumi.StringInput
	// AdminUser is the cloud-init user the keys are installed for.
	AdminUser string
	// SSHPublicKeys go into every node's cloud-init.
	SSHPublicKeys pulumi.StringArrayInput
	// SSHPrivateKey logs the readiness check in; pass it as a secret.
	SSHPrivateKey pulumi.StringInput
	// Network says DHCP or static addressing.
	Network NodeNetwork
	// Host is the Proxmox host's SSH side. In DHCP mode each node's lease
	// is read there from the guest agent (`qm guest cmd`); required then.
	Host ProxmoxHost
	// Readiness tunes the post-boot check.
	Readiness NodeReadiness
	// CloneAfter is the last clone of the same template registered before
	// this group (K8sNodeGroup.LastClone of the previous group); nil for the
	// first group. Each clone waits for the one before it: a resource is
	// registered only once every resource it depends on has been processed,
	// so the chain orders every new clone after every clone before it, also
	// when several groups grow in one update.
	CloneAfter pulumi.Resource
	// CloneRetries is passed to the provider; default 3.
	CloneRetries int
}

// Node is one cloned VM of a group.
type Node struct {
	// Name is the VM name, <cluster>-<group>-<i>.
	Name string
	// Role is the group's role.
	Role string
	// VMID is the node's fixed VM ID.
	VMID int
	// IPv4 is the node's address (no prefix). It resolves once the node
	// passed its readiness check; in static mode it is known at preview.
	IPv4 pulumi.StringOutput
	// User is the login user the node was cloned with: AdminUser, or the
	// earlier admin user of a node cloned before it changed (cloud-init
	// users are never changed on a running node).
	User pulumi.StringOutput
	// VM and Ready are the node's resources; Address (DHCP mode only)
	// waits on the Proxmox host for the node's IPv4 lease.
	VM      *vm.VirtualMachine
	Address *remote.Command
	Ready   *remote.Command
}

// K8sNodeGroup is a group of full clones of the NixOS template, each checked
// over SSH for what the template promises.
type K8sNodeGroup struct {
	pulumi.ResourceState

	// Nodes in index order.
	Nodes []*Node
	// NodesOutput is the nodes as a list of {name, role, vmId, ipv4}.
	NodesOutput pulumi.ArrayOutput
	// LastClone is the group's last clone (or CloneAfter for an empty
	// group): pass it as the next group's CloneAfter.
	LastClone pulumi.Resource
}

func (a K8sNodeGroupArgs) withDefaults() K8sNodeGroupArgs {
	if a.CloneRetries == 0 {
		a.CloneRetries = DefaultCloneRetries
	}
	if a.Readiness.Timeout == 0 {
		a.Readiness.Timeout = DefaultReadinessTimeout
	}
	if a.Cores == 0 {
		a.Cores = DefaultNodeCores
	}
	if a.MemoryMB == 0 {
		a.MemoryMB = DefaultNodeMemoryMB
	}
	if a.DiskSizeGB == 0 {
		a.DiskSizeGB = DefaultTemplateDiskSizeGB
	}
	if a.VMStorage == nil {
		a.VMStorage = pulumi.String(DefaultVMStorage)
	}
	if a.Bridge == nil {
		a.Bridge = pulumi.String(DefaultBridge)
	}
	a.Host = a.Host.withDefaults()
	return a
}

func (a K8sNodeGroupArgs) check(name string) error {
	var errs []error
	if a.Role != RoleControlPlane && a.Role != RoleWorker {
		errs = append(errs, fmt.Errorf("Role %q: use %q or %q", a.Role, RoleControlPlane, RoleWorker))
	}
	if a.Count < 0 {
		errs = append(errs, fmt.Errorf("Count %d is negative", a.Count))
	}
	if a.VMIDStart < 100 || a.VMIDStart+max(a.Count, 1)-1 > 999999999 {
		errs = append(errs, fmt.Errorf("VM IDs %d-%d are outside 100-999999999", a.VMIDStart, a.VMIDStart+a.Count-1))
	}
	if a.ClusterName == "" || a.AdminUser == "" {
		errs = append(errs, errors.New("ClusterName and AdminUser are required"))
	}
	if a.NodeName == nil || a.TemplateVmId == nil || a.SSHPublicKeys == nil || a.SSHPrivateKey == nil {
		errs = append(errs, errors.New("NodeName, TemplateVmId, SSHPublicKeys and SSHPrivateKey are required"))
	}
	if a.Network.CIDR == "" {
		if err := a.Host.check(); err != nil {
			errs = append(errs, fmt.Errorf("DHCP mode reads leases on the Proxmox host: %w", err))
		}
	} else {
		for i := 1; i <= a.Count; i++ {
			if _, err := StaticIPv4(a.Network.CIDR, a.Network.HostOffset+i-1); err != nil {
				errs = append(errs, fmt.Errorf("node %d: %w", i, err))
				break
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("K8sNodeGroup %s: %w", name, err)
	}
	return nil
}

// NewK8sNodeGroup registers Count full clones of the template, one after
// another (Proxmox storage locks fail parallel clones), each followed
// by its readiness check. Resource names are stable: node i is `<name>-<i>`
// and its check `<name>-<i>-ready`, so scaling changes nothing but the added
// or removed nodes.
func NewK8sNodeGroup(ctx *pulumi.Context, name string, args *K8sNodeGroupArgs, opts ...pulumi.ResourceOption) (*K8sNodeGroup, error) {
	if args == nil {
		return nil, errors.New("K8sNodeGroup: args are required")
	}
	a := args.withDefaults()
	if err := a.check(name); err != nil {
		return nil, err
	}
	g := &K8sNodeGroup{}
	if err := ctx.RegisterComponentResource(K8sNodeGroupType, name, g, opts...); err != nil {
		return nil, err
	}
	b := &groupBuilder{ctx: ctx, g: g, group: name, a: a}
	if a.Network.CIDR == "" {
		conn, err := a.Host.connection()
		if err != nil {
			return nil, fmt.Errorf("K8sNodeGroup %s: %w", name, err)
		}
		b.hostConn = conn
	}
	prev := a.CloneAfter
	var outputs pulumi.Array
	for i := 1; i <= a.Count; i++ {
		node, err := b.newNode(i, prev)
		if err != nil {
			return nil, err
		}
		g.Nodes = append(g.Nodes, node)
		prev = node.VM
		outputs = append(outputs, pulumi.Map{
			"name": pulumi.String(node.Name),
			"role": pulumi.String(node.Role),
			"vmId": pulumi.Int(node.VMID),
			"ipv4": node.IPv4,
		})
	}
	g.LastClone = prev
	g.NodesOutput = outputs.ToArrayOutput()
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"nodes": g.NodesOutput}); err != nil {
		return nil, err
	}
	return g, nil
}

// groupBuilder holds what every node of one group is built from.
type groupBuilder struct {
	ctx   *pulumi.Context
	g     *K8sNodeGroup
	group string
	a     K8sNodeGroupArgs
	// hostConn reaches the Proxmox host (DHCP mode: the address lookups).
	hostConn remote.ConnectionArgs
}

// newNode registers node i of the group: the clone, in DHCP mode its address
// lookup, and its readiness check.
func (b *groupBuilder) newNode(i int, after pulumi.Resource) (*Node, error) {
	ctx, g, group, a := b.ctx, b.g, b.group, b.a
	n := &Node{
		Name: fmt.Sprintf("%s-%s-%d", a.ClusterName, group, i),
		Role: a.Role,
		VMID: a.VMIDStart + i - 1,
	}
	ipConfig := &vm.VirtualMachineInitializationIpConfigIpv4Args{Address: pulumi.String("dhcp")}
	staticIP := ""
	if a.Network.CIDR != "" {
		addr, err := StaticIPv4(a.Network.CIDR, a.Network.HostOffset+i-1)
		if err != nil {
			return nil, err
		}
		staticIP = strings.SplitN(addr, "/", 2)[0]
		ipConfig = &vm.VirtualMachineInitializationIpConfigIpv4Args{
			Address: pulumi.String(addr),
			Gateway: pulumi.String(a.Network.Gateway),
		}
	}
	opts := []pulumi.ResourceOption{
		pulumi.Parent(g),
		// Fixed VM IDs: the old VM must be gone before its replacement.
		pulumi.DeleteBeforeReplace(true),
		// A clone does not depend on its template once it exists: a new
		// template (or new clone retries) must not replace running nodes.
		// New nodes are cloned from the template of their day. Likewise the
		// cloud-init user and keys, which the provider can only change by
		// replacing the VM: they never wipe a running node.
		pulumi.IgnoreChanges([]string{"clone", "initialization.userAccount"}),
	}
	if after != nil {
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{after}))
	}
	var err error
	n.VM, err = vm.NewVirtualMachine(ctx, fmt.Sprintf("%s-%d", group, i), cloneArgs(n, a, ipConfig), opts...)
	if err != nil {
		return nil, err
	}

	admin := a.AdminUser
	n.User = n.VM.Initialization.ApplyT(func(init *vm.VirtualMachineInitialization) string {
		if init != nil && init.UserAccount != nil && init.UserAccount.Username != nil && *init.UserAccount.Username != "" {
			return *init.UserAccount.Username
		}
		return admin
	}).(pulumi.StringOutput)

	var ip pulumi.StringOutput
	if staticIP != "" {
		ip = pulumi.String(staticIP).ToStringOutput()
	} else {
		if n.Address, err = b.newAddressLookup(i, n); err != nil {
			return nil, err
		}
		ip = n.Address.Stdout
	}

	swap := "no"
	if a.Readiness.SwapExpected {
		swap = "yes"
	}
	nfs := a.Readiness.NFSMountPoint
	if nfs == "" {
		nfs = "-"
	}
	n.Ready, err = remote.NewCommand(ctx, fmt.Sprintf("%s-%d-ready", group, i), &remote.CommandArgs{
		Connection: remote.ConnectionArgs{
			Host:       ip,
			User:       n.User,
			PrivateKey: pulumi.ToSecret(a.SSHPrivateKey).(pulumi.StringOutput),
			// The node may still be booting: keep dialling for a while.
			DialErrorLimit: pulumi.Int(60),
			PerDialTimeout: pulumi.Int(10),
		},
		Create: pulumi.String(scriptCommand("node-ready.sh", n.Name, nfs, swap,
			strconv.Itoa(int(a.Readiness.Timeout/time.Second)))),
		// A replaced VM is checked again.
		Triggers: pulumi.Array{n.VM.ID()},
		Logging:  remote.LoggingStdoutAndStderr,
	}, pulumi.Parent(g), pulumi.DependsOn([]pulumi.Resource{n.VM}),
		// A changed address takes effect at the node's next reboot (cloud-init
		// reapplies it); checking the new address right away would fail. A
		// newer check script is likewise no reason to re-check every node.
		pulumi.IgnoreChanges([]string{"connection", "create"}))
	if err != nil {
		return nil, err
	}
	n.IPv4 = pulumi.All(ip, n.Ready.Stdout).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	return n, nil
}

// newAddressLookup waits on the Proxmox host until the node's guest agent
// reports a usable IPv4 address (skipping loopback, link-local and IPv6) and
// returns it as its stdout. It runs again only when the VM is replaced.
func (b *groupBuilder) newAddressLookup(i int, n *Node) (*remote.Command, error) {
	return remote.NewCommand(b.ctx, fmt.Sprintf("%s-%d-address", b.group, i), &remote.CommandArgs{
		Connection: b.hostConn,
		Create: pulumi.String(scriptCommand("node-address.sh", strconv.Itoa(n.VMID),
			strconv.Itoa(int(DefaultAddressTimeout/time.Second)), strconv.Itoa(int(addressPoll/time.Second)))),
		Triggers: pulumi.Array{n.VM.ID()},
		Logging:  remote.LoggingStderr,
	}, pulumi.Parent(b.g), pulumi.DependsOn([]pulumi.Resource{n.VM}),
		// Runs once per VM: a newer script or another connection is no
		// reason to ask a running (or powered-off) node again.
		pulumi.IgnoreChanges([]string{"connection", "create"}))
}

// cloneArgs describe one full clone with its cloud-init identity.
func cloneArgs(n *Node, a K8sNodeGroupArgs, ip *vm.VirtualMachineInitializationIpConfigIpv4Args) *vm.VirtualMachineArgs {
	dns := &vm.VirtualMachineInitializationDnsArgs{}
	if len(a.Network.DNS) > 0 {
		dns.Servers = pulumi.ToStringArray(a.Network.DNS)
	}
	if a.Network.Domain != "" {
		dns.Domain = pulumi.String(a.Network.Domain)
	}
	hw := vmHardware{Cores: a.Cores, MemoryMB: a.MemoryMB, DiskSizeGB: a.DiskSizeGB, Storage: a.VMStorage, Bridge: a.Bridge}
	return hw.apply(&vm.VirtualMachineArgs{
		NodeName:    a.NodeName,
		VmId:        pulumi.Int(n.VMID),
		Name:        pulumi.String(n.Name),
		Description: pulumi.String(fmt.Sprintf("nixlab %s node %s (cloned from the NixOS template)", n.Role, n.Name)),
		Tags:        pulumi.ToStringArray([]string{"nixlab", a.ClusterName, n.Role}),
		Clone: &vm.VirtualMachineCloneArgs{
			VmId:        a.TemplateVmId,
			Full:        pulumi.Bool(true),
			Retries:     pulumi.Int(a.CloneRetries),
			DatastoreId: a.VMStorage,
			NodeName:    a.NodeName,
		},
		// Identity by cloud-init: Proxmox uses the VM name as hostname.
		Initialization: &vm.VirtualMachineInitializationArgs{
			DatastoreId: a.VMStorage,
			Interface:   pulumi.String("ide2"),
			Dns:         dns,
			IpConfigs:   vm.VirtualMachineInitializationIpConfigArray{&vm.VirtualMachineInitializationIpConfigArgs{Ipv4: ip}},
			UserAccount: &vm.VirtualMachineInitializationUserAccountArgs{
				Username: pulumi.String(a.AdminUser),
				Keys:     trimKeys(a.SSHPublicKeys),
			},
			Upgrade: pulumi.Bool(false),
		},
		Agent: &vm.VirtualMachineAgentArgs{
			Enabled: pulumi.Bool(true),
			Timeout: pulumi.String(DefaultAgentTimeout),
			Trim:    pulumi.Bool(true),
		},
		Started: pulumi.Bool(true),
		OnBoot:  pulumi.Bool(true),
	})
}

// trimKeys strips the whitespace around each key. The TLS provider ends its
// OpenSSH public key with a newline; the Proxmox provider reads keys back
// trimmed and, as keys force replacement, would otherwise recreate the VM on
// the next update.
func trimKeys(keys pulumi.StringArrayInput) pulumi.StringArrayOutput {
	return keys.ToStringArrayOutput().ApplyT(func(in []string) []string {
		out := make([]string, len(in))
		for i, k := range in {
			out[i] = strings.TrimSpace(k)
		}
		return out
	}).(pulumi.StringArrayOutput)
}
