package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
)

// lifecycleOp is one engine operation of a lifecycle command.
type lifecycleOp func(e Engine, ctx context.Context, req Request) error

// runUp is `nixlab up`. After a successful deployment with Kubernetes on
// (not turned off in the stack file) it says how to get the kubeconfig.
func runUp(ctx context.Context, c *cli, args []string) int {
	up := func(e Engine, ctx context.Context, req Request) error {
		if err := e.Up(ctx, req); err != nil {
			return err
		}
		sf := stackFlags{stack: req.Stack, dir: req.Dir}
		if !readStackFileConfig(sf.stackFile()).kubernetesDisabled {
			fmt.Fprintf(req.Stdout, "next: %s writes the cluster's kubeconfig (mode 0600), then kubectl get nodes\n",
				kubeconfigCommand(sf))
		}
		return nil
	}
	return c.lifecycle(ctx, args, "up",
		"Deploy the stack: build and upload the NixOS installer ISO, install and convert the template,\n"+
			"clone the node groups and wait for them, then bootstrap the kubeadm cluster on them (CNI, NFS\n"+
			"StorageClass, cluster check; unless nixlab:kubernetes.enabled is false). Creates the stack on first\n"+
			"use. Progress streams live. Afterwards `nixlab kubeconfig` writes the cluster's kubeconfig.",
		up)
}

// runPreview is `nixlab preview`. After the engine's preview it says which
// nodes the update would reboot (see rebootCollector) and how the
// Kubernetes cluster's membership changes (see kubeStepCollector), and which
// nodes a new node system rolls through (see rollCollector).
func runPreview(ctx context.Context, c *cli, args []string) int {
	var reboots rebootCollector
	var kube kubeStepCollector
	var rolls rollCollector
	preview := func(e Engine, ctx context.Context, req Request) error {
		req.OnEvent = func(ev events.EngineEvent) {
			reboots.observe(ev)
			kube.observe(ev)
			rolls.observe(ev)
		}
		if err := e.Preview(ctx, req); err != nil {
			return err
		}
		writeRebootSummary(req.Stdout, reboots.list())
		writeKubeSummary(req.Stdout, kube.summary())
		rolled, drained := rolls.summary()
		writeRollSummary(req.Stdout, rolled, drained)
		return nil
	}
	return c.lifecycle(ctx, args, "preview",
		"Show what `nixlab up` would create, update or delete, changing nothing, then which running nodes\n"+
			"the update would reboot (the Proxmox provider restarts a VM whose CPU, memory, network device or\n"+
			"cloud-init settings change), one at a time, and which nodes join the Kubernetes cluster or are\n"+
			"drained and removed from it, and which nodes roll to a new node system (and why). Creates the (empty) stack on first use, like `pulumi preview` after\n"+
			"`pulumi stack init`.",
		preview)
}

// runRefresh is `nixlab refresh`.
func runRefresh(ctx context.Context, c *cli, args []string) int {
	return c.lifecycle(ctx, args, "refresh",
		"Read the real state of every resource of an existing stack from Proxmox and update the stack state.",
		Engine.Refresh)
}

// lifecycle runs a lifecycle command without flags of its own.
func (c *cli) lifecycle(ctx context.Context, args []string, name, about string, op lifecycleOp) int {
	var sf stackFlags
	f := newFlags(name, "[--stack name] [--dir directory]", about)
	sf.register(f)
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	if !c.requirePulumi(name) {
		return 1
	}
	return c.runOp(ctx, name, sf.request(c), op)
}

// runOp runs op on a fresh engine and reports its failure.
func (c *cli) runOp(ctx context.Context, name string, req Request, op lifecycleOp) int {
	if err := op(c.env.NewEngine(), ctx, req); err != nil {
		return c.fail(ctx, name, err)
	}
	return 0
}

// runDestroy is `nixlab destroy`; it refuses without --yes.
func runDestroy(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var yes bool
	f := newFlags("destroy", "--yes [--stack name] [--dir directory]",
		"Delete every resource of an existing stack: the Kubernetes cluster (without draining nodes one by\n"+
			"one), all node VMs, the NixOS template VM and the uploaded installer ISO on the Proxmox host. The\n"+
			"stack itself (its history and config) stays.")
	sf.register(f)
	f.BoolVar(&yes, "yes", false, "really destroy (without it destroy only says what it would delete)")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	if !c.requirePulumi("destroy") {
		return 1
	}
	if !yes {
		dir, err := filepath.Abs(sf.dir)
		if err != nil {
			dir = sf.dir
		}
		fmt.Fprintf(c.stderr, "nixlab destroy: refusing without --yes: this would delete every resource of stack %q "+
			"(project %s): the Kubernetes cluster, all node VMs, the NixOS template VM and its installer ISO on the Proxmox host. "+
			"Pass --yes to destroy them.\n", sf.stack, dir)
		return 2
	}
	return c.runOp(ctx, "destroy", sf.request(c), Engine.Destroy)
}
