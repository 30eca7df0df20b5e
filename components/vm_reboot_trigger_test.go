package components

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// triggerArgs are the args of node 1 of validGroupArgs, as newNode
// registers them (DHCP).
func triggerArgs() *vm.VirtualMachineArgs {
	a := validGroupArgs().withDefaults()
	n := &Node{Name: "nixlab-workers-1", Role: a.Role, VMID: a.VMIDStart}
	return cloneArgs(n, a, &vm.VirtualMachineInitializationIpConfigIpv4Args{Address: pulumi.String("dhcp")})
}

// resolvedTrigger is rebootTrigger(args) with every value resolved.
func resolvedTrigger(t *testing.T, args *vm.VirtualMachineArgs) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := internals.UnsafeAwaitOutput(ctx, rebootTrigger(args, CloneIgnoreChanges()).ToMapOutput())
	if err != nil {
		t.Fatalf("resolving the trigger: %v", err)
	}
	if !r.Known {
		t.Fatalf("trigger unknown")
	}
	return r.Value
}

// The readiness trigger holds the value of every reboot field the clone
// sends: changing any of them changes the trigger (the node's check runs
// again, and the next node waits for it); changing a field the provider
// changes without a reboot, or one the clone ignores, does not.
func TestRebootTriggerFollowsRebootFields(t *testing.T) {
	base := resolvedTrigger(t, triggerArgs())
	for _, c := range []struct {
		name   string
		modify func(*vm.VirtualMachineArgs)
		reboot bool
	}{
		{"cpu cores", func(a *vm.VirtualMachineArgs) {
			a.Cpu = &vm.VirtualMachineCpuArgs{Cores: pulumi.Int(8), Type: pulumi.String(CPUType)}
		}, true},
		{"memory", func(a *vm.VirtualMachineArgs) { a.Memory = &vm.VirtualMachineMemoryArgs{Dedicated: pulumi.Int(1)} }, true},
		{"agent timeout only", func(a *vm.VirtualMachineArgs) {
			a.Agent = &vm.VirtualMachineAgentArgs{Enabled: pulumi.Bool(true), Timeout: pulumi.String("9m"), Trim: pulumi.Bool(true)}
		}, true},
		{"bios", func(a *vm.VirtualMachineArgs) { a.Bios = pulumi.String("ovmf") }, true},
		{"operating system", func(a *vm.VirtualMachineArgs) {
			a.OperatingSystem = &vm.VirtualMachineOperatingSystemArgs{Type: pulumi.String("l24")}
		}, true},
		{"scsi hardware", func(a *vm.VirtualMachineArgs) { a.ScsiHardware = pulumi.String("virtio-scsi-pci") }, true},
		{"vga", func(a *vm.VirtualMachineArgs) { a.Vga = &vm.VirtualMachineVgaArgs{Type: pulumi.String("serial0")} }, true},
		{"serial devices", func(a *vm.VirtualMachineArgs) {
			a.SerialDevices = vm.VirtualMachineSerialDeviceArray{&vm.VirtualMachineSerialDeviceArgs{Device: pulumi.String("socket")}}
		}, true},
		{"watchdog", func(a *vm.VirtualMachineArgs) {
			a.Watchdog = &vm.VirtualMachineWatchdogArgs{Enabled: pulumi.Bool(true)}
		}, true},
		{"machine", func(a *vm.VirtualMachineArgs) { a.Machine = pulumi.String("q35") }, true},
		{"acpi", func(a *vm.VirtualMachineArgs) { a.Acpi = pulumi.Bool(false) }, true},
		{"kvm arguments", func(a *vm.VirtualMachineArgs) { a.KvmArguments = pulumi.String("-x") }, true},
		{"tablet", func(a *vm.VirtualMachineArgs) { a.TabletDevice = pulumi.Bool(false) }, true},
		{"keyboard", func(a *vm.VirtualMachineArgs) { a.KeyboardLayout = pulumi.String("de") }, true},
		{"boot order", func(a *vm.VirtualMachineArgs) { a.BootOrders = pulumi.ToStringArray([]string{"scsi0"}) }, true},
		{"network bridge", func(a *vm.VirtualMachineArgs) {
			a.NetworkDevices = vm.VirtualMachineNetworkDeviceArray{&vm.VirtualMachineNetworkDeviceArgs{
				Bridge: pulumi.String("vmbr9"), Model: pulumi.String(NetworkModel)}}
		}, true},
		{"disk aio", func(a *vm.VirtualMachineArgs) { disk0(a).Aio = pulumi.String("native") }, true},
		{"disk datastore", func(a *vm.VirtualMachineArgs) { disk0(a).DatastoreId = pulumi.String("ceph") }, true},
		{"cloud-init dns", func(a *vm.VirtualMachineArgs) {
			a.Initialization.(*vm.VirtualMachineInitializationArgs).Dns = &vm.VirtualMachineInitializationDnsArgs{Domain: pulumi.String("x")}
		}, true},
		{"cloud-init datastore", func(a *vm.VirtualMachineArgs) {
			a.Initialization.(*vm.VirtualMachineInitializationArgs).DatastoreId = pulumi.String("ceph")
		}, true},

		{"tags", func(a *vm.VirtualMachineArgs) { a.Tags = pulumi.ToStringArray([]string{"x"}) }, false},
		{"description", func(a *vm.VirtualMachineArgs) { a.Description = pulumi.String("x") }, false},
		{"disk size", func(a *vm.VirtualMachineArgs) { disk0(a).Size = pulumi.Int(400) }, false},
		{"disk discard", func(a *vm.VirtualMachineArgs) { disk0(a).Discard = pulumi.String("ignore") }, false},
		{"name", func(a *vm.VirtualMachineArgs) { a.Name = pulumi.String("x") }, false},
		{"on boot", func(a *vm.VirtualMachineArgs) { a.OnBoot = pulumi.Bool(false) }, false},
		{"cdrom", func(a *vm.VirtualMachineArgs) { a.Cdrom = &vm.VirtualMachineCdromArgs{Enabled: pulumi.Bool(true)} }, false},
		// Ignored by the clone (CloneIgnoreChanges): never reaches the provider.
		{"cloud-init user", func(a *vm.VirtualMachineArgs) {
			a.Initialization.(*vm.VirtualMachineInitializationArgs).UserAccount = &vm.VirtualMachineInitializationUserAccountArgs{
				Username: pulumi.String("other")}
		}, false},
		{"clone source", func(a *vm.VirtualMachineArgs) {
			a.Clone = &vm.VirtualMachineCloneArgs{VmId: pulumi.Int(9999)}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := triggerArgs()
			c.modify(args)
			got := resolvedTrigger(t, args)
			if changed := !reflect.DeepEqual(got, base); changed != c.reboot {
				t.Errorf("trigger changed = %v, want %v (reboot field: %v)\nbase %v\ngot  %v", changed, c.reboot, c.reboot, base, got)
			}
		})
	}
}

func disk0(a *vm.VirtualMachineArgs) *vm.VirtualMachineDiskArgs {
	return a.Disks.(vm.VirtualMachineDiskArray)[0].(*vm.VirtualMachineDiskArgs)
}

// Every key of the trigger is a reboot field (or a list holding some), and
// every reboot field the clone sets is a key: the trigger is the clone's own
// args, not a list kept by hand.
func TestRebootTriggerKeysAreTheRebootFieldsSet(t *testing.T) {
	args := triggerArgs()
	trigger := rebootTrigger(args, CloneIgnoreChanges())
	names := pulumiNames(*args)
	v := reflect.ValueOf(args).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := names[v.Type().Field(i).Name]
		set := !v.Field(i).IsNil()
		_, inTrigger := trigger[name]
		wantIn := set && (RebootsVM(name) || len(rebootSubFields(name)) > 0)
		if inTrigger != wantIn {
			t.Errorf("%s: in trigger %v, want %v (set %v, reboots %v)", name, inTrigger, wantIn, set, RebootsVM(name))
		}
	}
	for _, want := range []string{"agent", "bios", "cpu", "disks", "initialization", "memory", "networkDevices", "operatingSystem", "scsiHardware"} {
		if _, ok := trigger[want]; !ok {
			t.Errorf("trigger lacks %s (keys %v)", want, keys(trigger))
		}
	}
}

func keys(m pulumi.Map) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
