package stack_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// ExampleDeploy embeds nixlab with the Automation API: the lab is described
// by a Go stack.Config value (no YAML), validated, and deployed by an inline
// program. It needs the Pulumi CLI, a Proxmox host and Nix, so it is only
// compiled here; examples/embedded is the same as a runnable program.
func ExampleDeploy() {
	cfg := stack.Config{
		ClusterName: "lab",
		APIToken:    stack.Secret(os.Getenv("PROXMOX_VE_API_TOKEN")),
		Proxmox: stack.ProxmoxConfig{
			Endpoint: "https://192.168.1.5:8006/",
			Insecure: true,
			Node:     "pve",
		},
		NFS: &stack.NFSConfig{Server: "192.168.1.4", Export: "/volume1/k8s-cluster-storage"},
		NodeGroups: map[string]stack.NodeGroupConfig{
			"control-plane": {Role: stack.RoleControlPlane, Count: 1, VMIDStart: 9100},
			"workers":       {Role: stack.RoleWorker, Count: 2, VMIDStart: 9200},
		},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err) // names the setting, e.g. proxmox.endpoint
		return
	}

	program := func(ctx *pulumi.Context) error {
		lab, err := stack.Deploy(ctx, &cfg)
		if err != nil {
			return err
		}
		for name, value := range stack.Outputs(ctx, &cfg, lab) {
			ctx.Export(name, value)
		}
		return nil
	}

	ctx := context.Background()
	s, err := auto.UpsertStackInlineSource(ctx, "lab", "nixlab-embedded", program)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	res, err := s.Up(ctx, optup.ProgressStreams(os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("template:", res.Outputs[stack.OutputTemplateVMID].Value)
}
