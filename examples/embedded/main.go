// Command embedded deploys a nixlab lab from a Go program with the Pulumi
// Automation API: no Pulumi.yaml, no stack file. The lab is a stack.Config
// value; the API token comes from PROXMOX_VE_API_TOKEN and never leaves the
// process except as a Pulumi secret.
//
//	PROXMOX_VE_API_TOKEN='root@pam!nixlab=<uuid>' go run ./examples/embedded -workers 3
//
// It needs the Pulumi CLI (logged in to a backend), Nix and a reachable
// Proxmox host, like `pulumi up` does.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

func main() {
	endpoint := flag.String("endpoint", "https://192.168.1.5:8006/", "Proxmox API URL")
	node := flag.String("node", "pve", "Proxmox node name")
	workers := flag.Int("workers", 2, "number of worker nodes")
	destroy := flag.Bool("destroy", false, "destroy the lab instead of deploying it")
	flag.Parse()

	cfg := stack.Config{
		ClusterName: "embedded",
		APIToken:    stack.Secret(os.Getenv("PROXMOX_VE_API_TOKEN")),
		Proxmox:     stack.ProxmoxConfig{Endpoint: *endpoint, Insecure: true, Node: *node},
		NodeGroups: map[string]stack.NodeGroupConfig{
			"control-plane": {Role: stack.RoleControlPlane, Count: 1, VMIDStart: 9100},
			"workers":       {Role: stack.RoleWorker, Count: *workers, VMIDStart: 9200},
		},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	s, err := auto.UpsertStackInlineSource(ctx, "embedded", "nixlab-embedded", func(ctx *pulumi.Context) error {
		lab, err := stack.Deploy(ctx, &cfg)
		if err != nil {
			return err
		}
		for name, value := range stack.Outputs(ctx, &cfg, lab) {
			ctx.Export(name, value)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "selecting the stack:", err)
		os.Exit(1)
	}
	if *destroy {
		if _, err := s.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	res, err := s.Up(ctx, optup.ProgressStreams(os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(res.Outputs[stack.OutputInventory].Value)
}
