package stack

import "github.com/nixlab/nixlab/components"

// Config is the whole typed stack configuration: every `nixlab:*` key of a
// stack file. LoadConfig fills it from Pulumi config; Go callers may build
// one directly, call ApplyDefaults and Validate, and hand it to Deploy.
type Config struct {
	// ClusterName prefixes every VM name (`<clusterName>-<group>-<i>`).
	ClusterName string `json:"clusterName"`
	// Proxmox says where and how to reach the Proxmox VE host.
	Proxmox ProxmoxConfig `json:"proxmox"`
	// APIToken is the Proxmox API token, `user@realm!tokenid=uuid`.
	APIToken Secret `json:"apiToken"`
	// Template shapes the NixOS template VM and its installer.
	Template TemplateConfig `json:"template"`
	// NFS, when set, is mounted on every node.
	NFS *NFSConfig `json:"nfs,omitempty"`
	// Network says how nodes get their IPv4 address.
	Network NetworkConfig `json:"network"`
	// AdminUser is the login user on every node (sudo, SSH keys).
	AdminUser string `json:"adminUser"`
	// Timezone of the nodes, an IANA name such as "Europe/Berlin".
	Timezone string `json:"timezone"`
	// ExtraAuthorizedKeys are OpenSSH public keys baked into the image for
	// the admin user, besides the key the stack generates.
	ExtraAuthorizedKeys []string `json:"extraAuthorizedKeys,omitempty"`
	// NodeGroups maps a group name to its shape. Node i (1-based) of group
	// g is VM `<clusterName>-g-i` with VM ID vmIdStart+i-1.
	NodeGroups map[string]NodeGroupConfig `json:"nodeGroups,omitempty"`
	// Kubernetes shapes the kubeadm cluster bootstrapped on the nodes.
	Kubernetes KubernetesConfig `json:"kubernetes"`
	// Updates says how `up` rolls a new node system, Kubernetes version or
	// VM change through the running nodes (see UpdatesConfig).
	Updates UpdatesConfig `json:"updates"`
	// StateDir is the local directory (relative to the project directory)
	// for rendered nix sources and GC-rooted ISO builds.
	StateDir string `json:"stateDir"`
}

// ProxmoxConfig is `nixlab:proxmox`.
type ProxmoxConfig struct {
	// Endpoint is the API URL, e.g. https://192.168.1.5:8006/.
	Endpoint string `json:"endpoint"`
	// Insecure skips TLS verification of the API (self-signed certificates).
	Insecure bool `json:"insecure"`
	// Node is the Proxmox node name (`pvesh get /nodes`).
	Node string `json:"node"`
	// ISOStorage holds the installer ISO (content type "iso").
	ISOStorage string `json:"isoStorage"`
	// VMStorage holds VM disks.
	VMStorage string `json:"vmStorage"`
	// Bridge is the network bridge for VM NICs.
	Bridge string `json:"bridge"`
	// SSH reaches the host's shell for ISO upload and `qm` commands.
	SSH SSHConfig `json:"ssh"`
}

// SSHConfig is `nixlab:proxmox.ssh`.
type SSHConfig struct {
	// Host defaults to the endpoint's host.
	Host string `json:"host"`
	// User defaults to root (qm needs it).
	User string `json:"user"`
	// Port defaults to 22.
	Port int `json:"port"`
	// HostKey is the host's public key ("ssh-ed25519 AAAA..."); when set,
	// connections check it.
	HostKey string `json:"hostKey,omitempty"`
	// PrivateKeyFile is a private key to log in with; without it the
	// ssh agent (SSH_AUTH_SOCK) is used.
	PrivateKeyFile string `json:"privateKeyFile,omitempty"`
}

// TemplateConfig is `nixlab:template`.
type TemplateConfig struct {
	// VMID is the fixed VM ID of the template (100-999999999).
	VMID int `json:"vmId"`
	// Name is the template VM's name.
	Name string `json:"name"`
	// DiskSizeGB is the size of the template's scsi0 disk.
	DiskSizeGB int `json:"diskSizeGb"`
	// SwapSizeGB is the size of the swap LV; nil means the default, 0
	// means no swap at all.
	SwapSizeGB *int `json:"swapSizeGb,omitempty"`
	// InstallTimeoutMinutes bounds the wait for the installer to finish.
	InstallTimeoutMinutes int `json:"installTimeoutMinutes"`
	// Cores and MemoryMB size the installer VM (clones choose their own).
	Cores    int `json:"cores"`
	MemoryMB int `json:"memoryMb"`
	// ISOPath points at a prebuilt installer ISO: no nix build.
	ISOPath string `json:"isoPath,omitempty"`
	// ExtraModules are NixOS module files imported into the node system.
	ExtraModules []string `json:"extraModules,omitempty"`
}

// NFSConfig is `nixlab:nfs`.
type NFSConfig struct {
	Server     string   `json:"server"`
	Export     string   `json:"export"`
	MountPoint string   `json:"mountPoint"`
	Options    []string `json:"options,omitempty"`
}

// NetworkConfig is `nixlab:network`.
type NetworkConfig struct {
	// Mode is "dhcp" or "static".
	Mode string `json:"mode"`
	// CIDR is the node network in static mode, e.g. 192.168.1.0/24.
	CIDR string `json:"cidr,omitempty"`
	// Gateway is the default gateway in static mode.
	Gateway string `json:"gateway,omitempty"`
	// DNS servers handed to nodes by cloud-init.
	DNS []string `json:"dns,omitempty"`
	// Domain is the DNS search domain.
	Domain string `json:"domain,omitempty"`
}

// NodeGroupConfig is one entry of `nixlab:nodeGroups`.
type NodeGroupConfig struct {
	Role       string `json:"role"`
	Count      int    `json:"count"`
	VMIDStart  int    `json:"vmIdStart"`
	Cores      int    `json:"cores"`
	MemoryMB   int    `json:"memoryMb"`
	DiskSizeGB int    `json:"diskSizeGb"`
	// HostOffset is the host number of node 1 inside the network CIDR in
	// static mode (node i gets offset+i-1).
	HostOffset int `json:"hostOffset,omitempty"`
}

// Roles a node group may have.
const (
	RoleControlPlane = components.RoleControlPlane
	RoleWorker       = components.RoleWorker
)

// Network modes.
const (
	NetworkDHCP   = "dhcp"
	NetworkStatic = "static"
)
