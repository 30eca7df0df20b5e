package stack

import (
	"net/url"
	"strings"
	"time"

	"github.com/nixlab/nixlab/components"
)

// Defaults used when a key is absent. They match the `default:` entries of
// Pulumi.yaml; an object-typed stack value replaces the project default as a
// whole, so per-field defaults are applied here. Where a component has the
// same default, it is the component's.
const (
	DefaultClusterName           = "nixlab"
	DefaultISOStorage            = components.DefaultISOStorage
	DefaultVMStorage             = components.DefaultVMStorage
	DefaultBridge                = components.DefaultBridge
	DefaultSSHUser               = "root"
	DefaultSSHPort               = 22
	DefaultTemplateVMID          = 9000
	DefaultTemplateName          = "nixlab-template"
	DefaultDiskSizeGB            = components.DefaultTemplateDiskSizeGB
	DefaultSwapSizeGB            = 2
	DefaultInstallTimeoutMinutes = int(components.DefaultInstallTimeout / time.Minute)
	DefaultTemplateCores         = components.DefaultTemplateCores
	DefaultTemplateMemoryMB      = components.DefaultTemplateMemoryMB
	DefaultNFSMountPoint         = "/mnt/nfs"
	DefaultAdminUser             = "nixos"
	DefaultTimezone              = "UTC"
	DefaultStateDir              = components.DefaultStateDir
	DefaultNodeCores             = components.DefaultNodeCores
	DefaultNodeMemoryMB          = components.DefaultNodeMemoryMB
)

// DefaultNFSOptions keep boot from hanging when the NAS is away; see
// nixos/modules/nfs.nix for the automount options added to them.
var DefaultNFSOptions = []string{"nfsvers=4.1", "hard", "rsize=1048576", "wsize=1048576"}

// ApplyDefaults fills every unset field with its default. It is idempotent
// and never overrides a value that was given.
func (c *Config) ApplyDefaults() {
	setString(&c.ClusterName, DefaultClusterName)
	setString(&c.AdminUser, DefaultAdminUser)
	setString(&c.Timezone, DefaultTimezone)
	setString(&c.StateDir, DefaultStateDir)

	p := &c.Proxmox
	setString(&p.ISOStorage, DefaultISOStorage)
	setString(&p.VMStorage, DefaultVMStorage)
	setString(&p.Bridge, DefaultBridge)
	setString(&p.SSH.User, DefaultSSHUser)
	setInt(&p.SSH.Port, DefaultSSHPort)
	if p.SSH.Host == "" {
		if u, err := url.Parse(p.Endpoint); err == nil {
			p.SSH.Host = u.Hostname()
		}
	}

	t := &c.Template
	setInt(&t.VMID, DefaultTemplateVMID)
	setString(&t.Name, DefaultTemplateName)
	setInt(&t.DiskSizeGB, DefaultDiskSizeGB)
	if t.SwapSizeGB == nil {
		swap := DefaultSwapSizeGB
		t.SwapSizeGB = &swap
	}
	setInt(&t.InstallTimeoutMinutes, DefaultInstallTimeoutMinutes)
	setInt(&t.Cores, DefaultTemplateCores)
	setInt(&t.MemoryMB, DefaultTemplateMemoryMB)

	if c.NFS != nil {
		setString(&c.NFS.MountPoint, DefaultNFSMountPoint)
		if c.NFS.Options == nil {
			c.NFS.Options = append([]string(nil), DefaultNFSOptions...)
		}
	}

	c.Network.Mode = strings.ToLower(c.Network.Mode)
	setString(&c.Network.Mode, NetworkDHCP)

	for name, g := range c.NodeGroups {
		setInt(&g.Cores, DefaultNodeCores)
		setInt(&g.MemoryMB, DefaultNodeMemoryMB)
		setInt(&g.DiskSizeGB, t.DiskSizeGB)
		c.NodeGroups[name] = g
	}
	c.applyKubernetesDefaults()
	c.applyUpdatesDefaults()
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}
