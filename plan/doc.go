// Package plan computes an offline plan of a nixlab stack: what `pulumi up`
// would create on an empty Proxmox host, without the Pulumi CLI, Proxmox,
// Nix or any network.
//
// [Build] reads Pulumi.yaml and Pulumi.<stack>.yaml from a project
// directory, validates the config with the same code as `pulumi up`
// ([stack.ParseConfig] and [stack.LoadConfig]) and runs [stack.Deploy] with
// pulumi.RunErr against an in-process mock engine in preview mode (a gRPC
// resource monitor on a unix socket in a private temporary directory; the
// SDK's own pulumi.WithMocks cannot carry the secret unknown inputs such a
// preview has). The mock engine assumes that nothing exists yet: custom
// resources get back only their inputs, so everything a provider computes
// (command output, DHCP addresses, generated keys) stays unknown, and
// nothing is written to disk.
//
// The resulting [Plan] lists every resource with its parent, provider,
// dependencies and a short summary of its key inputs, the cluster's nodes,
// the Ansible inventory as it will look, the template's content hash and ISO
// file name, and warnings about what `pulumi up` would still refuse.
// [Plan.Write] renders it as text, JSON, a Mermaid flowchart or a Graphviz
// digraph. Each node carries its restart inputs (the VM inputs whose change
// makes the pinned Proxmox provider reboot the running VM, or replace it);
// [Plan.CompareWith] compares them with an earlier plan read by [ReadJSON]
// and lists the nodes an edit reboots or replaces.
//
// [BuildContext] stops when its context ends (the CLI's first Ctrl-C).
// Building is linear in the node count (TestPlanIsLinear, BenchmarkPlan).
//
// Secrets stay hidden: encrypted (`secure:`) values of the stack file are
// never decrypted, a well-formed placeholder stands in for the API token,
// and secret inputs are summarized as [secret].
package plan
