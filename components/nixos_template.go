package components

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NixOSTemplateType is the Pulumi type token of the component.
const NixOSTemplateType = "nixlab:index:NixOSTemplate"

// Defaults of NixOSTemplateArgs.
const (
	DefaultTemplateDiskSizeGB = 20
	DefaultTemplateCores      = 2
	DefaultTemplateMemoryMB   = 4096
	DefaultInstallTimeout     = 60 * time.Minute
	DefaultPollInterval       = 15 * time.Second
	// MaxPollInterval is half the time the installer stays up after it
	// reports success (nixos/scripts/install.sh, NIXLAB_DONE_LINGER).
	MaxPollInterval   = 30 * time.Second
	DefaultISOStorage = "local"
	DefaultVMStorage  = "local-lvm"
	DefaultBridge     = "vmbr0"
	DefaultStateDir   = ".nixlab"
	// CdromInterface is where the installer ISO is attached; the provider
	// requires an IDE slot, and ide2 is Proxmox's cloud-init drive.
	CdromInterface = "ide3"
)

// NixOSTemplateArgs configure a NixOSTemplate. Values that shape the graph
// (VM ID, sizes, the settings that enter the content hash, paths) are plain
// Go values; the Proxmox node, storage and bridge may come from other
// resources.
type NixOSTemplateArgs struct {
	// NodeName is the Proxmox node that holds the template. Required.
	NodeName pulumi.StringInput
	// VMID is the template's fixed VM ID (100-999999999). Required.
	VMID int
	// Name is the VM name; default "nixlab-template".
	Name string
	// ISOStorage receives the installer ISO; default "local". It must allow
	// the "iso" content type.
	ISOStorage string
	// VMStorage holds the template disk; default "local-lvm".
	VMStorage pulumi.StringInput
	// Bridge for the installer VM's NIC; default "vmbr0".
	Bridge pulumi.StringInput
	// DiskSizeGB of the template disk; default 20. Clones may grow it.
	DiskSizeGB int
	// Cores and MemoryMB of the installer VM; defaults 2 and 4096.
	Cores    int
	MemoryMB int
	// InstallTimeout bounds the wait for the installer to power the VM off;
	// default 60 minutes.
	InstallTimeout time.Duration
	// PollInterval is how often the installer's progress is read; default
	// 15 s, at most a minute, so an install failure is seen within a minute
	// or two.
	PollInterval time.Duration
	// Settings are baked into the image (and into the content hash).
	Settings NodeSettings
	// ExtraModules are paths of NixOS module files imported into the node
	// system; their contents enter the content hash.
	ExtraModules []string
	// PrebuiltISO, when set, is uploaded instead of building with nix (for
	// machines without nix). Settings and ExtraModules are then ignored:
	// the ISO already holds its system.
	PrebuiltISO string
	// StateDir is the local directory, relative to the working directory,
	// for rendered sources, GC-rooted builds and known_hosts; default ".nixlab".
	StateDir string
	// Host is the Proxmox host's SSH side. Required.
	Host ProxmoxHost
}

// NixOSTemplate builds the installer ISO from the nix sources, uploads it,
// installs a VM from it unattended and converts that VM into a template.
type NixOSTemplate struct {
	pulumi.ResourceState

	// TemplateVmId resolves once the VM has become a template (a stack
	// output). Clones must not take it as an input: use VMID and Ready
	// (K8sNodeGroupArgs.TemplateVMID and Template).
	TemplateVmId pulumi.IntOutput
	// VMID is the template's fixed VM ID, a plain value.
	VMID int
	// Ready is the resource whose completion means the template exists
	// (the conversion, Finalize): what clones wait for by dependsOn.
	Ready pulumi.Resource
	// IsoFileId is the uploaded ISO's volume ID, "<storage>:iso/<file>".
	IsoFileId pulumi.StringOutput
	// ContentHash is the SHA-256 of the template inputs.
	ContentHash pulumi.StringOutput

	// Hash is ContentHash as a plain value, known at construction: the
	// image hash (every file of the rendered flake, installer and node). It
	// decides the ISO rebuild and the template replacement.
	Hash string
	// ISOFileName is the name of the ISO on the Proxmox host:
	// nixlab-<VMID>-<target>.iso (ISOFileName), the same for every image of
	// this template on this target. A new image replaces the file (the
	// upload is deleted before it is replaced).
	ISOFileName string

	// NodeSystemHash is the node-system hash (NodeSystemHash), a plain
	// 64-hex value known at construction: what nixosConfigurations.node is
	// built from, without the installer-only files. It decides whether
	// running nodes are rolled: an installer-only edit changes Hash but not
	// this. "" with PrebuiltISO: nixlab then has no node system, and nodes
	// of a prebuilt ISO cannot be rolled.
	NodeSystemHash string
	// NodeSystem is the node system's toplevel store path
	// (/nix/store/<hash>-nixos-system-<name>-<version>), the stdout of
	// SystemBuild: what a roll copies to a node and switches to. Unknown
	// in a preview that builds it anew. With PrebuiltISO it is "".
	NodeSystem pulumi.StringOutput

	// The children, in pipeline order. SystemBuild builds the node system
	// into the local store, GC-rooted under StateDir/system/ (nil with
	// PrebuiltISO); it is replaced exactly when NodeSystemHash changes, so
	// whatever copies NodeSystem to running nodes waits for it. Build waits
	// for it too, so nix builds the node closure once.
	SystemBuild *local.Command
	Build       *local.Command
	Upload      *local.Command
	VM          *vm.VirtualMachine
	Finalize    *remote.Command
}

// withDefaults returns a copy with every unset optional field filled.
func (a NixOSTemplateArgs) withDefaults() NixOSTemplateArgs {
	if a.Name == "" {
		a.Name = "nixlab-template"
	}
	if a.ISOStorage == "" {
		a.ISOStorage = DefaultISOStorage
	}
	if a.VMStorage == nil {
		a.VMStorage = pulumi.String(DefaultVMStorage)
	}
	if a.Bridge == nil {
		a.Bridge = pulumi.String(DefaultBridge)
	}
	if a.DiskSizeGB == 0 {
		a.DiskSizeGB = DefaultTemplateDiskSizeGB
	}
	if a.Cores == 0 {
		a.Cores = DefaultTemplateCores
	}
	if a.MemoryMB == 0 {
		a.MemoryMB = DefaultTemplateMemoryMB
	}
	if a.InstallTimeout == 0 {
		a.InstallTimeout = DefaultInstallTimeout
	}
	if a.PollInterval == 0 {
		a.PollInterval = DefaultPollInterval
	}
	if a.StateDir == "" {
		a.StateDir = DefaultStateDir
	}
	if a.Settings.Disk == "" {
		a.Settings.Disk = DefaultDisk
	}
	a.Host = a.Host.withDefaults()
	return a
}

func (a NixOSTemplateArgs) check() error {
	var errs []error
	if a.NodeName == nil {
		errs = append(errs, errors.New("NodeName is required: the Proxmox node that holds the template"))
	}
	if a.VMID < 100 || a.VMID > 999999999 {
		errs = append(errs, fmt.Errorf("VMID %d is out of range: use 100 to 999999999", a.VMID))
	}
	if a.InstallTimeout < time.Minute {
		errs = append(errs, fmt.Errorf("InstallTimeout %s is too short: use a minute or more", a.InstallTimeout))
	}
	// An installer failure must show within a minute or two.
	if a.PollInterval < time.Second || a.PollInterval > MaxPollInterval {
		errs = append(errs, fmt.Errorf("PollInterval %s: use 1s to %s", a.PollInterval, MaxPollInterval))
	}
	if err := a.Host.check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NewNixOSTemplate registers the template pipeline: build → upload →
// installer VM → finalize. Nothing is created when the arguments are
// invalid. Pass the Proxmox provider with pulumi.Provider or
// pulumi.Providers; it reaches every child.
func NewNixOSTemplate(ctx *pulumi.Context, name string, args *NixOSTemplateArgs, opts ...pulumi.ResourceOption) (*NixOSTemplate, error) {
	if args == nil {
		return nil, errors.New("NixOSTemplate: args are required")
	}
	a := args.withDefaults()
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("NixOSTemplate %s: %w", name, err)
	}
	if err := a.Host.CheckCredentials(); err != nil {
		if !ctx.DryRun() {
			return nil, fmt.Errorf("NixOSTemplate %s: %w", name, err)
		}
		_ = ctx.Log.Warn(err.Error()+"; an update will fail until this is fixed", nil)
	}

	// The hashes (and, when not previewing, the rendered build tree) are
	// settled before anything is registered.
	var hash, nodeHash string
	var src buildSources
	var err error
	if a.PrebuiltISO != "" {
		hash, err = PrebuiltISOHash(a.PrebuiltISO)
	} else if src, err = newBuildSources(a.Settings, a.ExtraModules); err == nil {
		hash, nodeHash = src.hash(), src.nodeSystemHash()
	}
	if err != nil {
		return nil, fmt.Errorf("NixOSTemplate %s: %w", name, err)
	}
	short := hash[:16]
	// Absolute paths: the commands run in the provider's working directory,
	// and a later delete must find what this run created.
	stateDir, err := filepath.Abs(a.StateDir)
	if err != nil {
		return nil, fmt.Errorf("NixOSTemplate %s: state directory: %w", name, err)
	}
	flakeDir := filepath.Join(stateDir, "src", short)
	write := !ctx.DryRun()
	if write && src != nil {
		if err := src.render(flakeDir, filepath.Join(stateDir, "flake.lock")); err != nil {
			return nil, fmt.Errorf("NixOSTemplate %s: rendering nix sources into %s: %w", name, flakeDir, err)
		}
	}
	target := a.Host.target(a.ISOStorage)
	t := &NixOSTemplate{Hash: hash, NodeSystemHash: nodeHash, ISOFileName: ISOFileName(a.VMID, target)}
	if err := ctx.RegisterComponentResource(NixOSTemplateType, name, t, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(t)
	// Every connection to the host checks its pinned key (PinProxmoxHostKey).
	host, err := a.Host.pinned(ctx, name+"-host-key", parent)
	if err != nil {
		return nil, fmt.Errorf("NixOSTemplate %s: %w", name, err)
	}
	conn, err := host.connection()
	if err != nil {
		return nil, fmt.Errorf("NixOSTemplate %s: %w", name, err)
	}
	sshEnv, err := host.sshEnvironment()
	if err != nil {
		return nil, fmt.Errorf("NixOSTemplate %s: %w", name, err)
	}

	// The local commands are replaced (run again) when their triggers
	// change. Their script texts are ignored, so a newer nixlab does not
	// rebuild or re-upload an unchanged ISO. Their environment is NOT
	// ignored: it holds per-hash values (the flake directory src/<short>,
	// the GC root, the ISO file name), and the engine applies ignoreChanges
	// to a replacement too (pulumi/pulumi pkg/resource/deploy/
	// step_generator.go, generateSteps: processIgnoreChanges against the
	// old inputs before Check, Diff and Create), so an ignored environment
	// would rebuild the old flake and upload under the old name, and the old
	// upload's delete would then remove that file. An environment change
	// without a trigger change (a run from another checkout: other absolute
	// paths) is an update, and local.Command's Update runs `create` again
	// when `update` is unset (pulumi-command v1.2.1, provider/pkg/provider/
	// local/commandController.go, Command.Update): the nix build is a cache
	// hit that only sets the new GC root, and upload-iso.sh skips a file
	// that is already on the host with the same sha256.
	// No working directory is set: a delete may run after the checkout that
	// created the resource is gone.
	commandOnlyOnTrigger := pulumi.IgnoreChanges(localCommandIgnoreChanges())

	if src != nil {
		t.SystemBuild, err = local.NewCommand(ctx, name+"-system", systemBuildArgs(flakeDir, stateDir, nodeHash),
			parent, commandOnlyOnTrigger)
		if err != nil {
			return nil, err
		}
		t.NodeSystem = t.SystemBuild.Stdout
	} else {
		t.NodeSystem = pulumi.String("").ToStringOutput()
	}
	var buildAfter []pulumi.Resource
	if t.SystemBuild != nil {
		buildAfter = append(buildAfter, t.SystemBuild)
	}

	t.Build, err = local.NewCommand(ctx, name+"-build", &local.CommandArgs{
		Create:      pulumi.String(scriptCommand("build-iso.sh", "create")),
		Delete:      pulumi.String(scriptCommand("build-iso.sh", "delete")),
		Interpreter: pulumi.ToStringArray([]string{"/bin/sh", "-c"}),
		Environment: pulumi.StringMap{
			"NIXLAB_FLAKE_DIR":    pulumi.String(flakeDir),
			"NIXLAB_OUT_LINK":     pulumi.String(filepath.Join(stateDir, "iso", short+"-"+target)),
			"NIXLAB_PREBUILT_ISO": pulumi.String(a.PrebuiltISO),
			"NIXLAB_LOCK_COPY":    pulumi.String(filepath.Join(stateDir, "flake.lock")),
		},
		// A new target builds again too: the upload must find the ISO on
		// this machine, not where an earlier run built it.
		Triggers: pulumi.Array{pulumi.String(hash), pulumi.String(target)},
		Logging:  local.LoggingStderr,
	}, parent, commandOnlyOnTrigger, pulumi.DependsOn(buildAfter))
	if err != nil {
		return nil, err
	}

	uploadEnv := pulumi.StringMap{
		"NIXLAB_ISO_PATH":      t.Build.Stdout,
		"NIXLAB_STORAGE":       pulumi.String(a.ISOStorage),
		"NIXLAB_ISO_FILE_NAME": pulumi.String(t.ISOFileName),
	}
	for k, v := range sshEnv {
		uploadEnv[k] = v
	}
	t.Upload, err = local.NewCommand(ctx, name+"-upload", &local.CommandArgs{
		Create:      pulumi.String(scriptCommand("upload-iso.sh", "create")),
		Delete:      pulumi.String(scriptCommand("upload-iso.sh", "delete")),
		Interpreter: pulumi.ToStringArray([]string{"/bin/sh", "-c"}),
		Environment: uploadEnv,
		// A new image, host, storage or template VM ID uploads again.
		Triggers: pulumi.Array{pulumi.String(hash), pulumi.String(target), pulumi.Int(a.VMID)},
		Logging:  local.LoggingStderr,
	}, parent, commandOnlyOnTrigger, pulumi.DependsOn([]pulumi.Resource{t.Build}),
		// The old upload's delete (which removes its file) runs before the
		// new upload, which may write the same name (ISOFileName): deleted
		// after, it would remove the new ISO.
		pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, err
	}

	t.VM, err = vm.NewVirtualMachine(ctx, name+"-vm", installerVMArgs(a, hash, t.Upload.Stdout), parent,
		pulumi.IgnoreChanges(TemplateVMIgnoreChanges()),
		// A new content hash (in the description) means a new template.
		pulumi.ReplaceOnChanges([]string{"description"}),
		// The VM ID is fixed: the old VM must go before the new one.
		pulumi.DeleteBeforeReplace(true),
		pulumi.DependsOn([]pulumi.Resource{t.Upload}),
	)
	if err != nil {
		return nil, err
	}

	// Finalize ignores nothing, unlike the node steps: its create command
	// carries the VM ID, the timeouts and the CD interface, and the
	// connection the host. A replacement (a new VM ID or content hash)
	// would run with the stored values of ignored inputs (see
	// commandOnlyOnTrigger above): the old VM ID, or the old host. A change
	// of either without a trigger change (a newer script, new timeouts,
	// another address or key for the same host) is an update, which runs
	// `update` (pulumi-command v1.2.1, provider/pkg/provider/remote/
	// commandController.go, Command.Update): `true`, nothing to do on an
	// existing template.
	t.Finalize, err = remote.NewCommand(ctx, name+"-finalize", &remote.CommandArgs{
		Connection: conn,
		Create: pulumi.String(scriptCommand("finalize-template.sh",
			strconv.Itoa(a.VMID),
			strconv.Itoa(int(a.InstallTimeout/time.Second)),
			strconv.Itoa(int(a.PollInterval/time.Second)),
			CdromInterface)),
		Update:   pulumi.String(noOpUpdate),
		Triggers: pulumi.Array{t.VM.ID(), pulumi.String(hash)},
		Logging:  remote.LoggingStdoutAndStderr,
	}, parent, pulumi.DependsOn([]pulumi.Resource{t.VM}))
	if err != nil {
		return nil, err
	}

	// The template's VM ID is fixed, so it is known even in a preview that
	// replaces the template. The output carries the dependency on finalize
	// for whoever reads it (the stack output); clones take the plain VMID
	// and wait for Ready instead (see K8sNodeGroupArgs.TemplateVMID).
	t.TemplateVmId = pulumi.OutputWithDependencies(ctx.Context(),
		pulumi.Int(a.VMID).ToIntOutput(), t.Finalize).(pulumi.IntOutput)
	t.VMID = a.VMID
	t.Ready = t.Finalize
	t.IsoFileId = t.Upload.Stdout
	t.ContentHash = pulumi.String(hash).ToStringOutput()

	if err := ctx.RegisterResourceOutputs(t, pulumi.Map{
		"templateVmId":   t.TemplateVmId,
		"isoFileId":      t.IsoFileId,
		"contentHash":    t.ContentHash,
		"nodeSystemHash": pulumi.String(t.NodeSystemHash),
		"nodeSystem":     t.NodeSystem,
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// localCommandIgnoreChanges are the ignoreChanges paths of the template's
// local commands (the system build, the ISO build, the upload): the script
// texts and the interpreter, never the environment (NewNixOSTemplate says
// why) or the triggers.
func localCommandIgnoreChanges() []string {
	return []string{"create", "update", "delete", "interpreter"}
}

// systemGCRootDir is the directory under the state directory that holds
// the node systems' GC roots, one link per node-system hash prefix.
const systemGCRootDir = "system"

// systemBuildArgs build the node system (nixosConfigurations.node's
// toplevel) from the flake rendered in flakeDir, with a GC root at
// <stateDir>/system/<first 16 hex of nodeHash> that its delete removes. It
// runs again exactly when the node-system hash changes. The flake directory
// is the one this run rendered (per image hash): an installer-only edit
// moves it without a new node-system hash, which is an update that builds
// the same system from the new directory (a cache hit).
func systemBuildArgs(flakeDir, stateDir, nodeHash string) *local.CommandArgs {
	return &local.CommandArgs{
		Create:      pulumi.String(scriptCommand("build-iso.sh", "create")),
		Delete:      pulumi.String(scriptCommand("build-iso.sh", "delete")),
		Interpreter: pulumi.ToStringArray([]string{"/bin/sh", "-c"}),
		Environment: pulumi.StringMap{
			"NIXLAB_BUILD_KIND": pulumi.String("system"),
			"NIXLAB_FLAKE_DIR":  pulumi.String(flakeDir),
			"NIXLAB_OUT_LINK":   pulumi.String(filepath.Join(stateDir, systemGCRootDir, nodeHash[:16])),
			"NIXLAB_LOCK_COPY":  pulumi.String(filepath.Join(stateDir, "flake.lock")),
		},
		Triggers: pulumi.Array{pulumi.String(nodeHash)},
		Logging:  local.LoggingStderr,
	}
}

// TemplateVMIgnoreChanges are the ignoreChanges paths of the installer VM
// (the template). The installer powers the VM off; finalize detaches the CD
// and converts the VM with `qm template` (the boot order loses the CD with
// it). None of that may look like drift, and flipping `template` through
// the provider would recreate the VM:
//   - started, template, cdrom, bootOrders: what finalize changes;
//   - ipv4Addresses, ipv6Addresses, networkInterfaceNames: the template
//     reads back stopped, so `started` differs from the program's true and
//     network.CustomizeDiff (proxmoxtf/resource/vm/network/schema.go, bpg
//     v0.69.1) marks these computed; ignoring `started` alone leaves them as
//     a diff on every `up` after a refresh (the bridge drops only ignored
//     attributes from the provider's diff: processIgnoreChanges in
//     pkg/tfshim/sdk-v2/instance_diff.go, bridge v3.99.0);
//   - DiskSpeedIgnore: see there.
func TemplateVMIgnoreChanges() []string {
	return []string{"started", "template", "cdrom", "bootOrders",
		"ipv4Addresses", "ipv6Addresses", "networkInterfaceNames", DiskSpeedIgnore}
}

// installerVMArgs describe the VM that boots the installer ISO and becomes
// the template.
func installerVMArgs(a NixOSTemplateArgs, hash string, isoFileID pulumi.StringOutput) *vm.VirtualMachineArgs {
	hw := vmHardware{Cores: a.Cores, MemoryMB: a.MemoryMB, DiskSizeGB: a.DiskSizeGB, Storage: a.VMStorage, Bridge: a.Bridge}
	return hw.apply(&vm.VirtualMachineArgs{
		NodeName:    a.NodeName,
		VmId:        pulumi.Int(a.VMID),
		Name:        pulumi.String(a.Name),
		Description: pulumi.String("NixOS template built by nixlab. Content hash " + hash + "."),
		Tags:        vmTags("nixlab", "template"),
		// The provider's `enabled` defaults to false, and only enabled
		// drives are encoded into the create request
		// (vms.CustomStorageDevice.EncodeValues, bpg v0.69.1): without it
		// the VM gets no CD and boots nothing.
		Cdrom: &vm.VirtualMachineCdromArgs{
			Enabled:   pulumi.Bool(true),
			FileId:    isoFileID,
			Interface: pulumi.String(CdromInterface),
		},
		// The empty disk falls through to the CD; once installed, the disk
		// boots first.
		BootOrders: pulumi.ToStringArray([]string{"scsi0", CdromInterface}),
		// The live installer runs the guest agent: finalize reads the
		// install status through it.
		Agent: &vm.VirtualMachineAgentArgs{
			Enabled: pulumi.Bool(true),
			Timeout: pulumi.String("2m"),
			Trim:    pulumi.Bool(true),
		},
		SerialDevices: vm.VirtualMachineSerialDeviceArray{&vm.VirtualMachineSerialDeviceArgs{
			Device: pulumi.String("socket"),
		}},
		Started: pulumi.Bool(true),
		OnBoot:  pulumi.Bool(false),
	})
}

// ISOFileName is the installer ISO's name on the Proxmox host for the
// template with VM ID vmid on target (ProxmoxHost.target: host, port and
// storage): nixlab-<vmid>-<target>.iso. It does not change with the image:
// the template VM ignores its `cdrom` (finalize detaches the CD, see
// TemplateVMIgnoreChanges), and the engine keeps ignored inputs at their
// stored values also when it replaces the VM (pulumi/pulumi
// pkg/resource/deploy/step_generator.go, generateSteps,
// processIgnoreChanges). A name with the content hash in it would have a
// new template install the previous image; a stable name is always the
// current one.
func ISOFileName(vmid int, target string) string {
	return fmt.Sprintf("nixlab-%d-%s.iso", vmid, target)
}
