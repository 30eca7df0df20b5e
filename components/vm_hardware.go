package components

import (
	"slices"
	"strings"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DiskSpeedIgnore is the ignoreChanges path of the one disk's `speed`
// block. The bridge's Check fills the block with its all-zero defaults (the
// DefaultFunc of `speed` in proxmoxtf/resource/vm/disk/schema.go, bpg
// v0.69.1, applied by conversionContext.applyDefaults in
// pkg/tfbridge/schema.go, bridge v3.99.0), while disk.Read (proxmoxtf/resource/vm/disk/disk.go) sets it to
// an empty list when Proxmox has no limits: without the ignore every VM shows
// a disk update on every `up` (pulumi-proxmoxve#664). The path names the
// index: the bridge matches ignored paths literally (computeIgnoreChanges in
// pkg/tfbridge/diff.go, pulumi-terraform-bridge v3.99.0), so a `[*]`
// wildcard would not reach the provider's diff. nixlab sends exactly one
// disk (scsi0).
const DiskSpeedIgnore = "disks[0].speed"

// vmTags returns tags as the provider reads them back: trimmed, without
// empty ones, de-duplicated (Proxmox stores a tag once) and sorted
// (vmReadCustom in proxmoxtf/resource/vm/vm.go sorts them, bpg v0.69.1).
// The provider suppresses an order-only diff of tags
// (structure.SuppressIfListsAreEqualIgnoringOrder) but not a duplicate,
// which changes the list's length.
func vmTags(tags ...string) pulumi.StringArray {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return pulumi.ToStringArray(slices.Compact(out))
}

// vmHardware is the virtual hardware the NixOS image is built for: SeaBIOS,
// a virtio-scsi disk that the guest sees as /dev/sda, a virtio NIC. The
// installer VM and every clone share it, so the template boots the same
// everywhere.
type vmHardware struct {
	Cores      int
	MemoryMB   int
	DiskSizeGB int
	Storage    pulumi.StringInput
	Bridge     pulumi.StringInput
}

// CPUType is the CPU model of every nixlab VM.
const CPUType = "x86-64-v2-AES"

// NetworkModel is the NIC model of every nixlab VM.
const NetworkModel = "virtio"

// apply sets the hardware fields of args.
func (h vmHardware) apply(args *vm.VirtualMachineArgs) *vm.VirtualMachineArgs {
	args.Bios = pulumi.String("seabios")
	args.ScsiHardware = pulumi.String("virtio-scsi-single")
	args.OperatingSystem = &vm.VirtualMachineOperatingSystemArgs{Type: pulumi.String("l26")}
	args.Cpu = &vm.VirtualMachineCpuArgs{
		Cores: pulumi.Int(h.Cores),
		Type:  pulumi.String(CPUType),
	}
	args.Memory = &vm.VirtualMachineMemoryArgs{Dedicated: pulumi.Int(h.MemoryMB)}
	// On a clone this grows the cloned disk; the node grows partition, PV,
	// LV and ext4 into it at boot.
	args.Disks = vm.VirtualMachineDiskArray{&vm.VirtualMachineDiskArgs{
		Interface:   pulumi.String("scsi0"),
		DatastoreId: h.Storage,
		Size:        pulumi.Int(h.DiskSizeGB),
		FileFormat:  pulumi.String("raw"),
		Discard:     pulumi.String("on"),
		Iothread:    pulumi.Bool(true),
	}}
	args.NetworkDevices = vm.VirtualMachineNetworkDeviceArray{&vm.VirtualMachineNetworkDeviceArgs{
		Bridge: h.Bridge,
		Model:  pulumi.String(NetworkModel),
	}}
	args.StopOnDestroy = pulumi.Bool(true)
	return args
}
