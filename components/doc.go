// Package components holds nixlab's Pulumi component resources:
// NixOSTemplate (nix sources → installer ISO → Proxmox template) and the
// small helpers they share (embedded host scripts, shell quoting, the SSH
// connection to the Proxmox host).
package components
