package providermodel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/nixlab/nixlab/components"
)

// Sources cited by the VM rules (bpg/terraform-provider-proxmox v0.69.1).
const (
	srcVMRead       = "proxmoxtf/resource/vm/vm.go vmReadCustom"
	srcVMReadPrim   = "proxmoxtf/resource/vm/vm.go vmReadPrimitiveValues"
	srcVMSchema     = "proxmoxtf/resource/vm/vm.go VM"
	srcDiskRead     = "proxmoxtf/resource/vm/disk/disk.go Read"
	srcDiskSchema   = "proxmoxtf/resource/vm/disk/schema.go Schema (DefaultFunc of disk and speed)"
	srcNetCustomize = "proxmoxtf/resource/vm/network/schema.go CustomizeDiff"
)

// vmRules are the VirtualMachine behaviours, in the order they apply.
var vmRules = []Rule{
	{
		Name: "block-defaults-filled",
		Source: srcVMSchema + " (DefaultFunc of the top-level blocks); the bridge's Check fills them when the program " +
			"leaves a block out (pkg/tfbridge/provider.go Check, makeTerraformInputsWithOptions without " +
			"DisableTFDefaults; pkg/tfbridge/schema.go conversionContext.applyDefaults, bridge v3.99.0; pulumi-proxmoxve#35, #563)",
		Check: checkBlockDefaults,
	},
	{
		Name:   "disk-defaults-filled",
		Source: srcDiskSchema + "; the bridge fills them in Check, nested objects included (pkg/tfbridge/schema.go conversionContext.applyDefaults, bridge v3.99.0; pulumi-proxmoxve#664)",
		Check:  checkDiskDefaults,
	},
	{
		Name: "cdrom-read-from-the-drive",
		Source: "proxmox/nodes/vms/custom_storage_device.go CustomStorageDevices.EncodeValues (only enabled " +
			"drives are sent; `enabled` defaults to false); " + srcVMRead + " (no device at the interface: cdrom = [])",
		Read: readCdrom,
	},
	{
		Name:   "dns-read-only-when-set",
		Source: srcVMRead + " (dns only when Proxmox has a nameserver or search domain; servers split on spaces)",
		Read:   readDNS,
	},
	{
		Name:   "upgrade-not-read",
		Source: srcVMRead + " (initialization rebuilt without `upgrade`, deprecated and not encoded)",
		Read:   readNoUpgrade,
	},
	{
		Name:   "ip-config-read-whole",
		Source: srcVMRead + " (ipv4 address and gateway both set, \"\" when Proxmox has none)",
		Read:   readIPConfigs,
	},
	{
		Name: "user-account-read-with-sensitive-password",
		Source: srcVMRead + " (user_account with keys, username and password \"\"); " +
			"proxmox/nodes/vms/custom_cloud_init.go CustomCloudInitSSHKeys.UnmarshalJSON (keys trimmed, split on newlines); " +
			"vm.go VM schema: user_account.password Sensitive (the bridge makes it secret)",
		Read: readUserAccount,
	},
	{
		Name:   "disk-speed-read-empty",
		Source: srcDiskRead + " (speed = [] when Proxmox has no limits)",
		Read:   readDiskSpeed,
	},
	{
		Name:   "tags-deduplicated-and-sorted",
		Source: srcVMReadPrim + " (tags split on ';', sorted); Proxmox stores each tag once",
		Read:   readTags,
	},
	{
		Name:   "started-and-template-from-status",
		Source: srcVMReadPrim + " (started from the status unless a template; template from the config)",
		Read:   readStatus,
	},
	{
		Name: "agent-addresses-computed",
		Source: "proxmoxtf/resource/vm/network/network.go ReadNetworkValues (ipv4/ipv6 addresses and interface names " +
			"from the guest agent of a running VM); network.go ReadNetworkDeviceObjects (MAC addresses from the config)",
		Read: readAddresses,
	},
}

// diskDefaults are the defaults of a disk block's attributes (schema.go,
// Default of each attribute), which disk.Read also returns for a disk whose
// Proxmox config omits them.
var diskDefaults = resource.PropertyMap{
	"aio":         resource.NewStringProperty("io_uring"),
	"backup":      resource.NewBoolProperty(true),
	"cache":       resource.NewStringProperty("none"),
	"datastoreId": resource.NewStringProperty("local-lvm"),
	"discard":     resource.NewStringProperty("ignore"),
	"iothread":    resource.NewBoolProperty(false),
	"replicate":   resource.NewBoolProperty(true),
	"serial":      resource.NewStringProperty(""),
	"ssd":         resource.NewBoolProperty(false),
}

// diskSpeedDefaults is the `speed` block's DefaultFunc: all limits zero.
var diskSpeedDefaults = resource.PropertyMap{
	"iopsRead":           resource.NewNumberProperty(0),
	"iopsReadBurstable":  resource.NewNumberProperty(0),
	"iopsWrite":          resource.NewNumberProperty(0),
	"iopsWriteBurstable": resource.NewNumberProperty(0),
	"read":               resource.NewNumberProperty(0),
	"readBurstable":      resource.NewNumberProperty(0),
	"write":              resource.NewNumberProperty(0),
	"writeBurstable":     resource.NewNumberProperty(0),
}

func checkDiskDefaults(in resource.PropertyMap) {
	for _, d := range objects(in, "disks") {
		for k, v := range diskDefaults {
			setDefault(d, k, v)
		}
		setDefault(d, "speed", resource.NewObjectProperty(diskSpeedDefaults.Copy()))
	}
}

// blockDefaults are the DefaultFunc values of the VM's top-level blocks that
// are not empty (srcVMSchema, the dv* constants of vm.go). The other blocks
// with a DefaultFunc (audioDevices, bootOrders, clone, efiDisk, tpmState,
// initialization, hostpcis, usbs, numas) default to an empty list, which
// the diff treats as an absent block (isZero), so the model leaves them out.
var blockDefaults = map[resource.PropertyKey]resource.PropertyValue{
	"agent": resource.NewObjectProperty(resource.PropertyMap{
		"enabled": resource.NewBoolProperty(false),
		"timeout": resource.NewStringProperty("15m"),
		"trim":    resource.NewBoolProperty(false),
		"type":    resource.NewStringProperty("virtio"),
	}),
	"cdrom": resource.NewObjectProperty(resource.PropertyMap{
		"enabled":   resource.NewBoolProperty(false),
		"fileId":    resource.NewStringProperty(""),
		"interface": resource.NewStringProperty("ide3"),
	}),
	"cpu": resource.NewObjectProperty(resource.PropertyMap{
		"architecture": resource.NewStringProperty(""),
		"cores":        resource.NewNumberProperty(1),
		"flags":        resource.NewArrayProperty([]resource.PropertyValue{}),
		"hotplugged":   resource.NewNumberProperty(0),
		"limit":        resource.NewNumberProperty(0),
		"numa":         resource.NewBoolProperty(false),
		"sockets":      resource.NewNumberProperty(1),
		"type":         resource.NewStringProperty("qemu64"),
		"units":        resource.NewNumberProperty(1024),
		"affinity":     resource.NewStringProperty(""),
	}),
	"memory": resource.NewObjectProperty(resource.PropertyMap{
		"dedicated":     resource.NewNumberProperty(512),
		"floating":      resource.NewNumberProperty(0),
		"shared":        resource.NewNumberProperty(0),
		"hugepages":     resource.NewStringProperty(""),
		"keepHugepages": resource.NewBoolProperty(false),
	}),
	"operatingSystem": resource.NewObjectProperty(resource.PropertyMap{
		"type": resource.NewStringProperty("other"),
	}),
	"serialDevices": resource.NewArrayProperty([]resource.PropertyValue{
		resource.NewObjectProperty(resource.PropertyMap{"device": resource.NewStringProperty("socket")}),
	}),
	"vga": resource.NewObjectProperty(resource.PropertyMap{
		"clipboard": resource.NewStringProperty(""),
		"memory":    resource.NewNumberProperty(16),
		"type":      resource.NewStringProperty("std"),
	}),
	"watchdog": resource.NewObjectProperty(resource.PropertyMap{
		"action":  resource.NewStringProperty("none"),
		"enabled": resource.NewBoolProperty(false),
		"model":   resource.NewStringProperty("i6300esb"),
	}),
}

func checkBlockDefaults(in resource.PropertyMap) {
	for k, v := range blockDefaults {
		if cur, ok := in[k]; !ok || cur.IsNull() {
			in[k] = deepCopy(v)
		}
	}
}

// readCdrom sets `cdrom` from the drive Proxmox has at the block's
// interface (vmReadCustom): none when the drive was never sent (a disabled
// CD is not encoded; vmCreateClone adds it disabled, so a clone has none,
// the template's having been deleted by finalize) or was detached.
func readCdrom(state resource.PropertyMap, env Env) {
	cd := object(state, "cdrom")
	if cd == nil {
		return
	}
	sent := cd["enabled"].IsBool() && cd["enabled"].BoolValue()
	if !sent || env.VM.CdromDetached {
		delete(state, "cdrom")
	}
}

func readDNS(state resource.PropertyMap, _ Env) {
	init := object(state, "initialization")
	if init == nil {
		return
	}
	dns := object(init, "dns")
	if dns == nil {
		return
	}
	servers := stringsAt(dns, "servers")
	domain := stringAt(dns, "domain")
	if len(servers) == 0 && domain == "" {
		delete(init, "dns")
		return
	}
	// Proxmox stores the servers space-separated; the read splits them.
	read := strings.Fields(strings.Join(servers, " "))
	dns["servers"] = resource.NewPropertyValue(read)
	dns["domain"] = resource.NewStringProperty(domain)
}

func readNoUpgrade(state resource.PropertyMap, _ Env) {
	if init := object(state, "initialization"); init != nil {
		delete(init, "upgrade")
	}
}

func readIPConfigs(state resource.PropertyMap, _ Env) {
	init := object(state, "initialization")
	if init == nil {
		return
	}
	for _, c := range objects(init, "ipConfigs") {
		if v4 := object(c, "ipv4"); v4 != nil {
			setDefault(v4, "address", resource.NewStringProperty(""))
			setDefault(v4, "gateway", resource.NewStringProperty(""))
		}
	}
}

func readUserAccount(state resource.PropertyMap, _ Env) {
	init := object(state, "initialization")
	if init == nil {
		return
	}
	ua := object(init, "userAccount")
	if ua == nil {
		return
	}
	keys := strings.TrimSpace(strings.Join(stringsAt(ua, "keys"), "\n"))
	read := []string{}
	if keys != "" {
		read = strings.Split(keys, "\n")
	}
	ua["keys"] = resource.NewPropertyValue(read)
	pw := ua["password"]
	if pw.IsSecret() {
		pw = pw.SecretValue().Element
	}
	if !pw.IsString() {
		pw = resource.NewStringProperty("")
	}
	ua["password"] = resource.MakeSecret(pw)
}

func readDiskSpeed(state resource.PropertyMap, _ Env) {
	for _, d := range objects(state, "disks") {
		sp := object(d, "speed")
		if sp == nil {
			continue
		}
		limited := false
		for _, v := range sp {
			if !isZero(v) {
				limited = true
			}
		}
		if !limited {
			delete(d, "speed")
		}
	}
}

func readTags(state resource.PropertyMap, _ Env) {
	if _, ok := state["tags"]; !ok {
		return
	}
	var tags []string
	for _, t := range stringsAt(state, "tags") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	state["tags"] = resource.NewPropertyValue(slices.Compact(tags))
}

func readStatus(state resource.PropertyMap, env Env) {
	state["template"] = resource.NewBoolProperty(env.VM.Template)
	state["started"] = resource.NewBoolProperty(!env.VM.Stopped)
}

func readAddresses(state resource.PropertyMap, env Env) {
	mac := env.VM.MAC
	if mac == "" {
		mac = "BC:24:11:00:00:01"
	}
	var macs []string
	for _, nd := range objects(state, "networkDevices") {
		setDefault(nd, "macAddress", resource.NewStringProperty(mac))
		macs = append(macs, stringAt(nd, "macAddress"))
	}
	state["macAddresses"] = resource.NewPropertyValue(macs)
	agent := object(state, "agent")
	running := !env.VM.Stopped && agent != nil && agent["enabled"].IsBool() && agent["enabled"].BoolValue()
	if running && env.VM.IPv4 != "" {
		state["ipv4Addresses"] = resource.NewPropertyValue([]any{[]any{"127.0.0.1"}, []any{env.VM.IPv4}})
		state["ipv6Addresses"] = resource.NewPropertyValue([]any{[]any{"::1"}, []any{}})
		state["networkInterfaceNames"] = resource.NewPropertyValue([]string{"lo", "eth0"})
	} else {
		state["ipv4Addresses"] = resource.NewPropertyValue([]any{})
		state["ipv6Addresses"] = resource.NewPropertyValue([]any{})
		state["networkInterfaceNames"] = resource.NewPropertyValue([]string{})
	}
}

// vmComputed are attributes the provider computes: a state value with no
// config value is no diff.
var vmComputed = []string{
	"ipv4Addresses", "ipv6Addresses", "macAddresses", "networkInterfaceNames", "vmId",
	"disks[*].pathInDatastore", "disks[*].fileFormat", "disks[*].fileId",
	"networkDevices[*].macAddress",
}

// vmAgentComputed are the attributes network.CustomizeDiff marks computed
// when `started` or the network devices change.
var vmAgentComputed = []string{"ipv4Addresses", "ipv6Addresses", "networkInterfaceNames"}

// vmForceNew are the attributes whose change replaces the VM (ForceNew in
// the VM schema; vm_id and node_name by CustomizeDiff).
var vmForceNew = []string{
	"vmId", "nodeName", "template", "clone", "initialization.userAccount",
	"initialization.userDataFileId", "initialization.vendorDataFileId",
	"initialization.networkDataFileId", "initialization.metaDataFileId", "disks[*].fileId",
}

// vmDiff compares a VM's config (checked, ignoreChanges applied) with its
// state as the bridge and the Terraform plugin SDK do.
func vmDiff(state, cfg resource.PropertyMap, ignoreChanges []string) DiffResult {
	var changed []string
	sdkv2Diff("", resource.NewObjectProperty(unwrap(resource.NewObjectProperty(state)).ObjectValue()),
		unwrap(resource.NewObjectProperty(cfg)), func(p string) { changed = append(changed, p) })
	// network.CustomizeDiff (srcNetCustomize): a change of `started` or of
	// the network devices marks the agent's address fields computed.
	if slices.ContainsFunc(changed, func(p string) bool {
		return p == "started" || matchesAny(p, []string{"networkDevices"})
	}) {
		changed = append(changed, vmAgentComputed...)
	}
	// The bridge drops the provider's attribute diffs at ignored paths and
	// below, matching paths literally (processIgnoreChanges,
	// pkg/tfshim/sdk-v2/instance_diff.go; computeIgnoreChanges,
	// pkg/tfbridge/diff.go; bridge v3.99.0).
	var d DiffResult
	for _, p := range changed {
		if underLiteral(p, ignoreChanges) {
			continue
		}
		d.Changed = append(d.Changed, p)
		if matchesAny(p, vmForceNew) {
			d.Replace = true
		}
	}
	return d
}

// sdkv2Diff reports the paths where cfg differs from state under the
// Terraform plugin SDK's rules: unset equals zero (isZero), a block present
// on one side only differs, lists compare by length then element, tags
// ignore order (structure.SuppressIfListsAreEqualIgnoringOrder,
// proxmoxtf/structure/schema.go), and computed attributes with no config
// value are no diff.
func sdkv2Diff(path string, state, cfg resource.PropertyValue, add func(string)) {
	if path != "" && cfg.IsNull() && matchesAny(path, vmComputed) {
		return
	}
	switch {
	case cfg.IsComputed() || cfg.IsOutput():
		add(path)
	case state.IsObject() || cfg.IsObject():
		if !state.IsObject() || !cfg.IsObject() {
			add(path)
			return
		}
		s, c := state.ObjectValue(), cfg.ObjectValue()
		for _, k := range unionKeys(s, c) {
			sdkv2Diff(join(path, string(k)), s[k], c[k], add)
		}
	case isZero(state) && isZero(cfg):
	case state.IsArray() && cfg.IsArray():
		sa, ca := state.ArrayValue(), cfg.ArrayValue()
		if len(sa) != len(ca) {
			add(path)
			return
		}
		if path == "tags" {
			if !slices.Equal(sortedStrings(sa), sortedStrings(ca)) {
				add(path)
			}
			return
		}
		for i := range sa {
			sdkv2Diff(fmt.Sprintf("%s[%d]", path, i), sa[i], ca[i], add)
		}
	case !state.DeepEquals(cfg):
		add(path)
	}
}

func sortedStrings(vs []resource.PropertyValue) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprint(v.V))
	}
	slices.Sort(out)
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// RebootingChanges returns the changed paths of d that make the provider
// reboot a running VM (components.RebootsVM).
func RebootingChanges(d DiffResult) []string {
	var out []string
	for _, p := range d.Changed {
		if components.RebootsVM(p) {
			out = append(out, p)
		}
	}
	return out
}

// vmID is a VM's resource ID: its VM ID in decimal, as the provider sets it
// after creating or cloning the VM (bpg v0.69.1 proxmoxtf/resource/vm/
// vm.go, vmCreateClone and vmCreateCustom: d.SetId(strconv.Itoa(vmID))).
func vmID(state resource.PropertyMap) (string, bool) {
	if v := unwrap(state["vmId"]); v.IsNumber() {
		return strconv.Itoa(int(v.NumberValue())), true
	}
	return "", false
}
