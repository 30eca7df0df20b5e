package components

import (
	"regexp"
	"strings"
)

// rebootFields lists the VirtualMachine input paths (Pulumi names) whose
// change makes the Proxmox provider restart a running VM during the update.
//
// Source: bpg/terraform-provider-proxmox v0.69.1, proxmoxtf/resource/vm/vm.go:
// vmUpdate sets rebootRequired for a change of each top-level block below and
// passes `!template && rebootRequired` to vmUpdateDiskLocationAndSize, which
// reboots the VM unless Proxmox reports it stopped. There is no opt-out in
// this version (`reboot_after_update` arrived in v0.73). Disks are special:
// disk.Update (proxmoxtf/resource/vm/disk/disk.go) asks for a reboot only
// when `aio` changes, and vmUpdateDiskLocationAndSize shuts the VM down and
// starts it again to move a disk to another datastore (`datastoreId`); a
// disk resize is done online. `cdrom`, `description`, `tags`, `onBoot`,
// `name`, `startup`, `smbios`, `protection`, `hookScriptFileId` and `poolId`
// change without a reboot.
var rebootFields = []string{
	"acpi",
	"agent",
	"audioDevice",
	"bios",
	"bootOrders",
	"cpu",
	"disks[*].aio",
	"disks[*].datastoreId",
	"efiDisk",
	"hostpcis",
	"initialization",
	"keyboardLayout",
	"kvmArguments",
	"machine",
	"memory",
	"networkDevices",
	"numas",
	"operatingSystem",
	"scsiHardware",
	"serialDevices",
	"tabletDevice",
	"template",
	"tpmState",
	"usbs",
	"vga",
	"watchdog",
}

// RebootFields returns the VirtualMachine input property paths (Pulumi
// camelCase names; `[*]` stands for any list index) whose change makes the
// pinned Proxmox provider (bpg v0.69.1, pulumi-proxmoxve v6.18.1) reboot a
// running, non-template VM at the end of an in-place update. A path covers
// everything below it: "cpu" includes "cpu.cores". The slice is a fresh copy,
// sorted; callers may modify it.
func RebootFields() []string {
	out := make([]string, len(rebootFields))
	copy(out, rebootFields)
	return out
}

var listIndex = regexp.MustCompile(`\[\d+\]`)

// RebootsVM reports whether a change of the VirtualMachine input property at
// path (a Pulumi property path such as "cpu.cores", "disks[0].aio" or
// "initialization.ipConfigs[0].ipv4.address") reboots a running VM under the
// pinned provider; see RebootFields.
func RebootsVM(path string) bool {
	p := listIndex.ReplaceAllString(path, "[*]")
	for _, f := range rebootFields {
		if p == f || strings.HasPrefix(p, f+".") || strings.HasPrefix(p, f+"[") {
			return true
		}
	}
	return false
}
