// Command nixlab deploys and inspects the nixlab stack (a NixOS template on
// Proxmox VE, nodes cloned from it and the kubeadm cluster on them) through
// the Pulumi Automation API, without a separate `pulumi up` step:
//
//	nixlab plan                 # offline: validate the config, show the stack graph
//	nixlab plan --against old.json  # offline: which nodes an edit reboots
//	nixlab preview              # what `up` would change, and which nodes it reboots
//	nixlab up                   # deploy (creates the stack on first use)
//	nixlab outputs              # stack outputs, secrets masked
//	nixlab inventory            # write inventory.ini for Ansible
//	nixlab ssh-key              # write the nodes' SSH private key (mode 0600)
//	nixlab kubeconfig           # write the cluster's admin kubeconfig (mode 0600)
//	nixlab refresh
//	nixlab destroy --yes
//
// The project directory (--dir, default ".") holds Pulumi.yaml and
// Pulumi.<stack>.yaml, shared with the Pulumi CLI, which nixlab needs on PATH
// for everything but `plan`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ctrl-C (or SIGTERM) cancels ctx; the Automation API then sends the
	// Pulumi CLI an interrupt, so the engine stops cleanly and the stack
	// state stays consistent.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// A second Ctrl-C gets the default behaviour: nixlab ends at once.
			stop()
			fmt.Fprintln(os.Stderr, "nixlab: interrupted; waiting for the engine to stop (Ctrl-C again to abort at once)")
		case <-done:
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, defaultEnv())
	close(done)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) int
}

// commands lists the subcommands in the order usage shows them. (A function,
// not a variable: `help` refers back to the list.)
func commands() []command {
	return []command{
		{"plan", "validate the stack config offline and render the stack graph", runPlan},
		{"preview", "show what up would change", runPreview},
		{"up", "deploy the stack (the template, the nodes, then the kubeadm cluster)", runUp},
		{"refresh", "reconcile the stack state with the real resources", runRefresh},
		{"destroy", "delete every resource of the stack (needs --yes)", runDestroy},
		{"outputs", "print the stack outputs (secrets masked)", runOutputs},
		{"inventory", "write the Ansible inventory from the stack outputs", runInventory},
		{"ssh-key", "write the nodes' SSH private key to a 0600 file", runSSHKey},
		{"kubeconfig", "write the cluster's admin kubeconfig to a 0600 file", runKubeconfig},
	}
}

// run is nixlab with its arguments (without the program name) and returns
// the exit code: 0 success, 1 failure, 2 usage error, 130 interrupted.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	c := &cli{stdout: stdout, stderr: stderr, env: env}
	if len(args) == 0 {
		c.usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			// `nixlab help up` is `nixlab up --help`.
			return run(ctx, []string{rest[0], "--help"}, stdout, stderr, env)
		}
		c.usage(stdout)
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(ctx, c, rest)
		}
	}
	fmt.Fprintf(stderr, "nixlab: unknown command %q\n\n", name)
	c.usage(stderr)
	return 2
}

// usage writes the top-level usage to w.
func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, "nixlab builds a NixOS template on Proxmox VE, clones nodes from it and runs a kubeadm cluster on them.\n\n")
	fmt.Fprint(w, "Usage:\n\n\tnixlab <command> [flags]\n\nCommands:\n\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "\t%-11s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nRun `nixlab <command> --help` for the flags of a command.\n"+
		"All commands but plan need the Pulumi CLI on PATH and a backend login (pulumi login).\n")
}
