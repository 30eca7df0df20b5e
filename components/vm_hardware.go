package components

import (
	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

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

// apply sets the hardware fields of args.
func (h vmHardware) apply(args *vm.VirtualMachineArgs) *vm.VirtualMachineArgs {
	args.Bios = pulumi.String("seabios")
	args.ScsiHardware = pulumi.String("virtio-scsi-single")
	args.OperatingSystem = &vm.VirtualMachineOperatingSystemArgs{Type: pulumi.String("l26")}
	args.Cpu = &vm.VirtualMachineCpuArgs{
		Cores: pulumi.Int(h.Cores),
		Type:  pulumi.String("x86-64-v2-AES"),
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
		Model:  pulumi.String("virtio"),
	}}
	args.StopOnDestroy = pulumi.Bool(true)
	return args
}
