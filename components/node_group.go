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
	// TemplateVMID is the VM ID of the template to clone (NixOSTemplate.VMID),
	// a plain value on purpose: a clone's `clone` block is ForceNew, and the
	// engine replaces a resource with deleteBeforeReplace (the template VM)
	// together with every dependent whose ForceNew input takes a value from
	// a replaced resource (calculateDependentReplacements in pulumi/pulumi
	// pkg/resource/deploy/step_generator.go). A VM ID that carried the
	// template's outputs would delete every node at once on a template
	// rebuild.
	TemplateVMID int
	// Template is what every clone waits for (a plain dependsOn, which that
	// engine rule does not follow): NixOSTemplate.Ready, the conversion into
	// a template. Required.
	Template pulumi.Resource
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
	// CloneAfter is what this group's first clone waits for: the readiness
	// check of the last node registered before this group
	// (K8sNodeGroup.LastClone of the previous group); nil for the first
	// group. Each clone waits for the node before it to be cloned and
	// ready: a resource is registered only once every resource it depends
	// on has been processed, so the chain orders every new clone after every
	// clone before it, also when several groups grow in one update, and an
	// update that reboots nodes (see RebootFields) reboots them one at a
	// time, each after the previous one is back and passed its check.
	CloneAfter pulumi.Resource
	// CloneRetries is passed to the provider; default 3.
	CloneRetries int
	// VMUpdateDrain, when set (the nodes run Kubernetes), drains a running
	// node before an update of its VM that reboots it and uncordons it once
	// it is back and ready (see VMUpdateDrain).
	VMUpdateDrain *VMUpdateDrain
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
	// Drain and Uncordon wrap an update of the VM that reboots it
	// (K8sNodeGroupArgs.VMUpdateDrain); nil without it.
	Drain, Uncordon *remote.Command

	// resourceName is the node's resource name, <group>-<i>: the prefix of
	// its steps' names.
	resourceName string
	// readyArgs are the arguments of its readiness check (node-ready.sh),
	// which the roll's health gate runs again.
	readyArgs []string
}

// K8sNodeGroup is a group of full clones of the NixOS template, each checked
// over SSH for what the template promises.
type K8sNodeGroup struct {
	pulumi.ResourceState

	// Nodes in index order.
	Nodes []*Node
	// NodesOutput is the nodes as a list of {name, role, vmId, ipv4}.
	NodesOutput pulumi.ArrayOutput
	// LastClone is the readiness check of the group's last node (or
	// CloneAfter for an empty group): pass it as the next group's
	// CloneAfter.
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
	if a.VMUpdateDrain != nil && a.VMUpdateDrain.Timeout == 0 {
		d := *a.VMUpdateDrain
		d.Timeout = DefaultDrainTimeout
		a.VMUpdateDrain = &d
	}
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
		errs = append(errs, fmt.Errorf("VM IDs %d-%d are outside 100-999999999", a.VMIDStart, a.VMIDStart+max(a.Count, 1)-1))
	}
	if a.ClusterName == "" || a.AdminUser == "" {
		errs = append(errs, errors.New("ClusterName and AdminUser are required"))
	}
	if a.NodeName == nil || a.Template == nil || a.SSHPublicKeys == nil || a.SSHPrivateKey == nil {
		errs = append(errs, errors.New("NodeName, Template, SSHPublicKeys and SSHPrivateKey are required"))
	}
	if a.TemplateVMID < 100 || a.TemplateVMID > 999999999 {
		errs = append(errs, fmt.Errorf("TemplateVMID %d is outside 100-999999999: pass NixOSTemplate.VMID", a.TemplateVMID))
	}
	if a.VMUpdateDrain != nil {
		if err := a.VMUpdateDrain.check(); err != nil {
			errs = append(errs, err)
		}
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
	if a.Network.CIDR == "" || a.VMUpdateDrain != nil {
		// The address lookups and the drains around VM updates check the
		// host's pinned key (PinProxmoxHostKey).
		host, err := a.Host.pinned(ctx, name+"-host-key", pulumi.Parent(g))
		if err != nil {
			return nil, fmt.Errorf("K8sNodeGroup %s: %w", name, err)
		}
		conn, err := host.connection()
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
		prev = node.Ready
		if node.Uncordon != nil {
			prev = node.Uncordon
		}
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

// CloneIgnoreChanges are the ignoreChanges paths of every clone:
//   - clone: a clone does not depend on its template once it exists; a new
//     template (or new clone retries, ForceNew in the provider) must not
//     replace running nodes. New nodes are cloned from the template of
//     their day.
//   - initialization.userAccount: the cloud-init user and keys, which the
//     provider can only change by replacing the VM (ForceNew): they never
//     wipe a running node. The node keeps the user it was cloned with
//     (Node.User reads it from state).
//   - cdrom: the bridge's Check fills the block's DefaultFunc
//     ({enabled: false, fileId: "", interface: "ide3"}; the VM schema in
//     proxmoxtf/resource/vm/vm.go, bpg v0.69.1), while vmReadCustom finds
//     no drive at ide3 on a clone (a disabled CD is never sent, and
//     finalize removed the template's) and reads `cdrom` as empty: without
//     the ignore every clone shows an update on every `up`
//     (pulumi-proxmoxve#35, #563). nixlab never gives a node a CD.
//   - DiskSpeedIgnore: see there.
func CloneIgnoreChanges() []string {
	return []string{"cdrom", "clone", "initialization.userAccount", DiskSpeedIgnore}
}

// nodeIdentity is the cloud-init addressing of one node.
type nodeIdentity struct {
	ipv4 *vm.VirtualMachineInitializationIpConfigIpv4Args
	// staticIP is the address without prefix; empty in DHCP mode.
	staticIP string
}

func (b *groupBuilder) identity(i int) (nodeIdentity, error) {
	a := b.a
	if a.Network.CIDR == "" {
		return nodeIdentity{
			ipv4: &vm.VirtualMachineInitializationIpConfigIpv4Args{Address: pulumi.String("dhcp")},
		}, nil
	}
	addr, err := StaticIPv4(a.Network.CIDR, a.Network.HostOffset+i-1)
	if err != nil {
		return nodeIdentity{}, err
	}
	return nodeIdentity{
		ipv4: &vm.VirtualMachineInitializationIpConfigIpv4Args{
			Address: pulumi.String(addr),
			Gateway: pulumi.String(a.Network.Gateway),
		},
		staticIP: strings.SplitN(addr, "/", 2)[0],
	}, nil
}

// newNode registers node i of the group, in three stages:
//  1. the clone, after `after` (the previous node's readiness check, or the
//     previous group's last one): clones never run in parallel, and an
//     update that reboots nodes reboots one node at a time;
//  2. in DHCP mode, the lookup of its address on the Proxmox host;
//  3. its readiness check, which runs again whenever the VM is replaced or
//     an update reboots it (rebootTriggers).
func (b *groupBuilder) newNode(i int, after pulumi.Resource) (*Node, error) {
	ctx, g, group, a := b.ctx, b.g, b.group, b.a
	n := &Node{
		Name:         fmt.Sprintf("%s-%s-%d", a.ClusterName, group, i),
		Role:         a.Role,
		VMID:         a.VMIDStart + i - 1,
		resourceName: fmt.Sprintf("%s-%d", group, i),
	}
	id, err := b.identity(i)
	if err != nil {
		return nil, err
	}
	opts := []pulumi.ResourceOption{
		pulumi.Parent(g),
		// Fixed VM IDs: the old VM must be gone before its replacement.
		pulumi.DeleteBeforeReplace(true),
		pulumi.IgnoreChanges(CloneIgnoreChanges()),
	}
	args := cloneArgs(n, a, id.ipv4)
	trigger := rebootTrigger(args, CloneIgnoreChanges())
	if a.VMUpdateDrain != nil {
		if n.Drain, err = b.newVMDrain(n, "drain", trigger, after); err != nil {
			return nil, err
		}
		after = n.Drain
	}
	// The template by dependsOn only (see K8sNodeGroupArgs.TemplateVMID).
	deps := []pulumi.Resource{a.Template}
	if after != nil {
		deps = append(deps, after)
	}
	opts = append(opts, pulumi.DependsOn(deps))
	n.VM, err = vm.NewVirtualMachine(ctx, n.resourceName, args, opts...)
	if err != nil {
		return nil, err
	}
	n.User = nodeUser(n.VM, a.AdminUser)

	var ip pulumi.StringOutput
	if id.staticIP != "" {
		ip = pulumi.String(id.staticIP).ToStringOutput()
	} else {
		if n.Address, err = b.newAddressLookup(i, n, trigger); err != nil {
			return nil, err
		}
		ip = n.Address.Stdout
	}
	if n.Ready, err = b.newReadiness(i, n, ip, trigger); err != nil {
		return nil, err
	}
	n.IPv4 = pulumi.All(ip, n.Ready.Stdout).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	if a.VMUpdateDrain != nil {
		if n.Uncordon, err = b.newVMDrain(n, "uncordon", trigger, n.Ready); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// nodeUser is the login user a node was cloned with, read from the VM's
// state: initialization.userAccount is ignored, so the state keeps the user
// of the clone's day even after AdminUser changed. The provider's
// `initialization` block holds the sensitive `password` field
// (mkInitializationUserAccountPassword, Sensitive in
// proxmoxtf/resource/vm/vm.go, bpg v0.69.1), which makes every value derived
// from the block secret; the user name is not a secret (it is in the stack
// config in plain text), so it is unsecreted, and the inventory and `ssh`
// outputs that use it stay readable.
func nodeUser(v *vm.VirtualMachine, admin string) pulumi.StringOutput {
	user := v.Initialization.ApplyT(func(init *vm.VirtualMachineInitialization) string {
		if init != nil && init.UserAccount != nil && init.UserAccount.Username != nil && *init.UserAccount.Username != "" {
			return *init.UserAccount.Username
		}
		return admin
	}).(pulumi.StringOutput)
	return pulumi.Unsecret(user).(pulumi.StringOutput)
}

// rebootTriggers are the triggers of node i's readiness check: the VM ID
// (a replaced VM is checked again) and the values of every clone input
// whose change makes the provider reboot the running VM (rebootTrigger of
// the very args the clone is registered with, less its ignoreChanges). An
// update that reboots the node therefore replaces the check, which runs
// again, and the next node's VM (which depends on this check) is updated
// only once this node is back.
func rebootTriggers(n *Node, trigger pulumi.Map) pulumi.Array {
	return pulumi.Array{n.VM.ID(), trigger}
}

// newReadiness registers node i's readiness check.
func (b *groupBuilder) newReadiness(i int, n *Node, ip pulumi.StringOutput, trigger pulumi.Map) (*remote.Command, error) {
	a := b.a
	swap := yesNo(a.Readiness.SwapExpected)
	nfs := a.Readiness.NFSMountPoint
	if nfs == "" {
		nfs = "-"
	}
	deps := []pulumi.Resource{n.VM}
	if n.Address != nil {
		deps = append(deps, n.Address)
	}
	n.readyArgs = []string{n.Name, nfs, swap, strconv.Itoa(int(a.Readiness.Timeout / time.Second))}
	run := stepRunner{ctx: b.ctx, parent: b.g, key: a.SSHPrivateKey}
	// Never updated (nodeStep): a newer check script, or another
	// connection, is no reason to re-check every node; a new address comes
	// with a reboot, which the triggers cover.
	return run.run(nodeStep{
		Name:   fmt.Sprintf("%s-%d-ready", b.group, i),
		Host:   ip,
		User:   n.User,
		Script: "node-ready.sh",
		Args:   n.readyArgs,
		// Triggers replace the check (it runs again, with the program's
		// current connection): a replaced or rebooted VM is checked again.
		Triggers: rebootTriggers(n, trigger),
		After:    deps,
	})
}

// newAddressLookup waits on the Proxmox host until the node's guest agent
// reports a usable IPv4 address (skipping loopback, link-local and IPv6) and
// returns it as its stdout. It runs again only when the VM is replaced or an
// update of its NIC or cloud-init rebooted it (the lease may have changed).
func (b *groupBuilder) newAddressLookup(i int, n *Node, trigger pulumi.Map) (*remote.Command, error) {
	return remote.NewCommand(b.ctx, fmt.Sprintf("%s-%d-address", b.group, i), &remote.CommandArgs{
		Connection: b.hostConn,
		Create: pulumi.String(scriptCommand("node-address.sh", strconv.Itoa(n.VMID),
			strconv.Itoa(int(DefaultAddressTimeout/time.Second)), strconv.Itoa(int(addressPoll/time.Second)))),
		Triggers: pulumi.Array{n.VM.ID(), pulumi.Map{
			"networkDevices": trigger["networkDevices"],
			"initialization": trigger["initialization"],
		}},
		Logging: remote.LoggingStderr,
	}, pulumi.Parent(b.g), pulumi.DependsOn([]pulumi.Resource{n.VM}),
		// Runs once per VM, never updated (remoteCommandIgnoreChanges): a
		// newer script or another connection is no reason to ask a running
		// (or powered-off) node again.
		pulumi.IgnoreChanges(remoteCommandIgnoreChanges()))
}

// cloneArgs describe one full clone with its cloud-init identity.
func cloneArgs(n *Node, a K8sNodeGroupArgs, ip *vm.VirtualMachineInitializationIpConfigIpv4Args) *vm.VirtualMachineArgs {
	init := &vm.VirtualMachineInitializationArgs{
		DatastoreId: a.VMStorage,
		Interface:   pulumi.String("ide2"),
		IpConfigs:   vm.VirtualMachineInitializationIpConfigArray{&vm.VirtualMachineInitializationIpConfigArgs{Ipv4: ip}},
		UserAccount: &vm.VirtualMachineInitializationUserAccountArgs{
			Username: pulumi.String(a.AdminUser),
			Keys:     trimKeys(a.SSHPublicKeys),
		},
		// No `upgrade`: it is deprecated, never sent to Proxmox nor read
		// back at this provider version, and only warns.
	}
	// The provider reads `dns` back only when Proxmox has a nameserver or a
	// search domain (vmReadCustom, bpg v0.69.1), and the read replaces the
	// whole `initialization` block: an empty `dns {}` would be a cloud-init
	// update, and a reboot, on every `up`.
	if len(a.Network.DNS) > 0 || a.Network.Domain != "" {
		dns := &vm.VirtualMachineInitializationDnsArgs{}
		if len(a.Network.DNS) > 0 {
			dns.Servers = pulumi.ToStringArray(a.Network.DNS)
		}
		if a.Network.Domain != "" {
			dns.Domain = pulumi.String(a.Network.Domain)
		}
		init.Dns = dns
	}
	hw := vmHardware{Cores: a.Cores, MemoryMB: a.MemoryMB, DiskSizeGB: a.DiskSizeGB, Storage: a.VMStorage, Bridge: a.Bridge}
	return hw.apply(&vm.VirtualMachineArgs{
		NodeName:    a.NodeName,
		VmId:        pulumi.Int(n.VMID),
		Name:        pulumi.String(n.Name),
		Description: pulumi.String(fmt.Sprintf("nixlab %s node %s (cloned from the NixOS template)", n.Role, n.Name)),
		Tags:        vmTags("nixlab", a.ClusterName, n.Role),
		Clone: &vm.VirtualMachineCloneArgs{
			VmId:        pulumi.Int(a.TemplateVMID),
			Full:        pulumi.Bool(true),
			Retries:     pulumi.Int(a.CloneRetries),
			DatastoreId: a.VMStorage,
			NodeName:    a.NodeName,
		},
		// Identity by cloud-init: Proxmox uses the VM name as hostname.
		Initialization: init,
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
