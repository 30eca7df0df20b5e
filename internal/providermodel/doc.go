// Package providermodel models what the providers nixlab uses read back into
// state, and how they diff a program's inputs against that state, at the
// versions nixlab pins:
//
//   - bpg/terraform-provider-proxmox v0.69.1 (pulumi-proxmoxve v6.18.1),
//     through pulumi-terraform-bridge v3.99.0;
//   - pulumi-command v1.2.1 (a pulumi-go-provider "infer" provider);
//   - hashicorp/terraform-provider-tls through pulumi-tls v5.2.0;
//   - hashicorp/terraform-provider-random (v3.7.1) through pulumi-random
//     v4.18.0 (random.go);
//   - pulumi-kubernetes v4.32.0: its provider resource, helm/v3 Release,
//     StorageClass and Namespace (kubernetes.go).
//
// Each behaviour is one Rule: a small named function with the upstream file
// and function it follows. ReadBack turns the inputs a program registers
// into the state the provider would hold after create (or update) and read;
// Diff compares a program's next inputs with that state the way the engine,
// the bridge and the provider do (ignoreChanges, defaults, zero values,
// diff suppressions, CustomizeDiff), so a test can assert that a second
// `pulumi up` changes nothing.
//
// The model adds secrecy only where the provider's schema does (Sensitive
// fields, provider:"secret" fields); every other secret in a state is one the
// program itself sent. It is a model for tests under Pulumi mocks, not a
// provider: it knows the fields nixlab sends, and every rule is checked
// against the provider source, not against Proxmox.
package providermodel

// Type tokens of the resources nixlab registers.
const (
	TypeVM            = "proxmoxve:VM/virtualMachine:VirtualMachine"
	TypeLocalCommand  = "command:local:Command"
	TypeRemoteCommand = "command:remote:Command"
	TypePrivateKey    = "tls:index/privateKey:PrivateKey"
)
