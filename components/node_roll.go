package components

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RollingUpdateType is the Pulumi type token of the component.
const RollingUpdateType = "nixlab:index:RollingUpdate"

// Defaults of RollPolicy.
const (
	DefaultMaxUnavailable = 1
	DefaultRollDrain      = 10 * time.Minute
	DefaultRollHealth     = 10 * time.Minute
)

// RollPolicy says how a new node system is rolled through running nodes
// (nixlab:updates).
type RollPolicy struct {
	// MaxUnavailable is how many workers roll at once; default 1. Control
	// planes always roll one at a time.
	MaxUnavailable int
	// DrainTimeout bounds each node's drain; default 10 minutes.
	DrainTimeout time.Duration
	// HealthTimeout bounds each node's health gate (and the wait for a
	// reboot); default 10 minutes.
	HealthTimeout time.Duration
	// Rollback switches a node back to its previous generation when its
	// health gate fails.
	Rollback bool
	// Hold are node names (Node.Name) that are never rolled: they get no
	// roll step.
	Hold []string
}

// RollingUpdateArgs configure the roll of a node system through running
// nodes. Node lists and the hash are plain values: they shape the graph.
type RollingUpdateArgs struct {
	// ControlPlanes in roll order; the first one not held runs `kubeadm
	// upgrade apply` when the new system carries a newer Kubernetes minor.
	ControlPlanes []*Node
	// Workers in roll order, after every control plane.
	Workers []*Node
	// System is the node system's store path (NixOSTemplate.NodeSystem).
	// Required.
	System pulumi.StringInput
	// SystemHash is the node-system hash (NixOSTemplate.NodeSystemHash):
	// a new hash replaces every roll step, which is what rolls the nodes.
	// Required.
	SystemHash string
	// SystemBuild is the local build of System (its closure is copied from
	// this machine); every step waits for it.
	SystemBuild pulumi.Resource
	// Kubernetes says the nodes run a kubeadm cluster: nodes are drained
	// and uncordoned, checked as Kubernetes nodes, and upgraded with
	// kubeadm when the Kubernetes minor changes.
	Kubernetes bool
	// KubernetesVersion is "" or the "major.minor" the new system's kubeadm
	// must have (nixlab:kubernetes.version). It is a trigger too: changing
	// it checks every node against it again.
	KubernetesVersion string
	// After is what the first roll waits for (the cluster's last join, or
	// the last readiness check): nodes roll once the cluster converged.
	After []pulumi.Resource
	// AdminUser is the admin user the new system declares
	// (NodeSettings.AdminUser). A node that logs in as another user (it was
	// cloned before nixlab:adminUser changed) is refused by its roll: NixOS
	// deletes a user it no longer declares. Required.
	AdminUser string
	// SSHPrivateKey logs the roll in to the nodes; made a secret here.
	SSHPrivateKey pulumi.StringInput
	// Policy is nixlab:updates.
	Policy RollPolicy
}

// RollingUpdate rolls a new node system through running nodes: one
// command:local:Command per node not held, `<group>-<i>-roll`, that runs
// scripts/node-roll.sh (drain, copy the closure, activate, health gate,
// uncordon; rollback on a failed gate). Control planes roll one at a time,
// then workers, MaxUnavailable at a time.
type RollingUpdate struct {
	pulumi.ResourceState

	// Steps are the roll steps by node name.
	Steps map[string]*local.Command
	// Order is the node names in roll order (held nodes left out).
	Order []string
}

func (a RollingUpdateArgs) withDefaults() RollingUpdateArgs {
	if a.Policy.MaxUnavailable == 0 {
		a.Policy.MaxUnavailable = DefaultMaxUnavailable
	}
	if a.Policy.DrainTimeout == 0 {
		a.Policy.DrainTimeout = DefaultRollDrain
	}
	if a.Policy.HealthTimeout == 0 {
		a.Policy.HealthTimeout = DefaultRollHealth
	}
	return a
}

func (a RollingUpdateArgs) check() error {
	var errs []error
	if a.System == nil {
		errs = append(errs, errors.New("System is required: the node system's store path"))
	}
	if a.SystemHash == "" {
		errs = append(errs, errors.New("SystemHash is required: the node-system hash that triggers a roll"))
	}
	if a.AdminUser == "" {
		errs = append(errs, errors.New("AdminUser is required: the admin user the new system declares"))
	}
	if a.SSHPrivateKey == nil {
		errs = append(errs, errors.New("SSHPrivateKey is required"))
	}
	if a.Policy.MaxUnavailable < 1 {
		errs = append(errs, fmt.Errorf("Policy.MaxUnavailable %d: use 1 or more", a.Policy.MaxUnavailable))
	}
	if a.Policy.DrainTimeout < time.Minute || a.Policy.HealthTimeout < time.Minute {
		errs = append(errs, errors.New("Policy.DrainTimeout and Policy.HealthTimeout: use a minute or more"))
	}
	known := map[string]bool{}
	for _, n := range slices.Concat(a.ControlPlanes, a.Workers) {
		if n.readyArgs == nil {
			errs = append(errs, fmt.Errorf("node %s was not made by NewK8sNodeGroup", n.Name))
		}
		known[n.Name] = true
	}
	for _, h := range a.Policy.Hold {
		if !known[h] {
			errs = append(errs, fmt.Errorf("Policy.Hold: %q is not one of the nodes", h))
		}
	}
	return errors.Join(errs...)
}

// NewRollingUpdate registers one roll step per node that is not held, in
// roll order. A step is created with the node (a node cloned from the
// current template is already on the target system, and its first run
// only checks that), replaced when SystemHash or KubernetesVersion changes
// (it runs again: that is the roll), and never runs on an update (other
// inputs, such as timeouts or a node's address, only change what a later
// roll uses).
func NewRollingUpdate(ctx *pulumi.Context, name string, args *RollingUpdateArgs, opts ...pulumi.ResourceOption) (*RollingUpdate, error) {
	if args == nil {
		return nil, errors.New("RollingUpdate: args are required")
	}
	a := args.withDefaults()
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("RollingUpdate %s: %w", name, err)
	}
	r := &RollingUpdate{Steps: map[string]*local.Command{}}
	if err := ctx.RegisterComponentResource(RollingUpdateType, name, r, opts...); err != nil {
		return nil, err
	}
	b := rollBuilder{ctx: ctx, r: r, a: a, kubeHosts: kubeHosts(a.ControlPlanes)}
	if err := b.register(); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{}); err != nil {
		return nil, err
	}
	return r, nil
}

// rollBuilder registers the steps of one RollingUpdate.
type rollBuilder struct {
	ctx       *pulumi.Context
	r         *RollingUpdate
	a         RollingUpdateArgs
	kubeHosts pulumi.StringOutput
}

// register chains the steps: each control plane after the one before it
// (the first after After), and worker k after worker k-MaxUnavailable, or
// after the last control plane for the first MaxUnavailable workers.
func (b *rollBuilder) register() error {
	a := b.a
	held := func(n *Node) bool { return slices.Contains(a.Policy.Hold, n.Name) }
	first := true
	var last *local.Command
	for _, n := range a.ControlPlanes {
		if held(n) {
			continue
		}
		role := "other"
		if first {
			role = "first"
			first = false
		}
		step, err := b.step(n, role, b.after(last))
		if err != nil {
			return err
		}
		last = step
	}
	var lanes []*local.Command
	for _, n := range a.Workers {
		if held(n) {
			continue
		}
		prev := last
		if len(lanes) >= a.Policy.MaxUnavailable {
			prev = lanes[len(lanes)-a.Policy.MaxUnavailable]
		}
		step, err := b.step(n, "other", b.after(prev))
		if err != nil {
			return err
		}
		lanes = append(lanes, step)
	}
	return nil
}

// after is what a step waits for: the step before it, or After.
func (b *rollBuilder) after(prev *local.Command) []pulumi.Resource {
	deps := []pulumi.Resource{}
	if b.a.SystemBuild != nil {
		deps = append(deps, b.a.SystemBuild)
	}
	if prev != nil {
		return append(deps, prev)
	}
	return append(deps, b.a.After...)
}

// kubeHosts is every control plane as "user@address", in roll order:
// where node-roll.sh runs kubectl (held control planes included).
func kubeHosts(cps []*Node) pulumi.StringOutput {
	var parts []any
	for _, n := range cps {
		parts = append(parts, n.User, n.IPv4)
	}
	return pulumi.All(parts...).ApplyT(func(v []any) string {
		hosts := make([]string, 0, len(v)/2)
		for i := 0; i+1 < len(v); i += 2 {
			hosts = append(hosts, v[i].(string)+"@"+v[i+1].(string))
		}
		return strings.Join(hosts, " ")
	}).(pulumi.StringOutput)
}

// yesNo is a script's boolean argument.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// rollTriggers are what replaces a roll step (and so rolls its node).
func rollTriggers(hash, version string) pulumi.Array {
	return pulumi.Array{pulumi.String(hash), pulumi.String(versionArg(version))}
}

// step registers the roll step of node n; upgradeRole is "first" for the
// control plane that runs `kubeadm upgrade apply`, else "other".
func (b *rollBuilder) step(n *Node, upgradeRole string, after []pulumi.Resource) (*local.Command, error) {
	a := b.a
	triggers := rollTriggers(a.SystemHash, a.KubernetesVersion)
	env := pulumi.StringMap{
		"NIXLAB_NODE":           pulumi.String(n.Name),
		"NIXLAB_NODE_HOST":      n.IPv4,
		"NIXLAB_NODE_USER":      n.User,
		"NIXLAB_ADMIN_USER":     pulumi.String(a.AdminUser),
		"NIXLAB_ROLE":           pulumi.String(n.Role),
		"NIXLAB_UPGRADE_ROLE":   pulumi.String(upgradeRole),
		"NIXLAB_SYSTEM":         a.System,
		"NIXLAB_KUBERNETES":     pulumi.String(yesNo(a.Kubernetes)),
		"NIXLAB_KUBE_HOSTS":     b.kubeHosts,
		"NIXLAB_KUBE_VERSION":   triggers[1].(pulumi.String),
		"NIXLAB_DRAIN_TIMEOUT":  pulumi.String(seconds(a.Policy.DrainTimeout)),
		"NIXLAB_HEALTH_TIMEOUT": pulumi.String(seconds(a.Policy.HealthTimeout)),
		"NIXLAB_ROLLBACK":       pulumi.String(yesNo(a.Policy.Rollback)),
		"NIXLAB_READY_SCRIPT":   pulumi.String(script("node-ready.sh")),
		"NIXLAB_READY_ARGS":     pulumi.String(strings.Join(n.readyArgs, " ")),
	}
	name := n.resourceName + "-roll"
	cmd, err := local.NewCommand(b.ctx, name, &local.CommandArgs{
		Create: pulumi.String(scriptCommand("node-roll.sh")),
		// An update (a new address, other timeouts, a newer script) rolls
		// nothing: it only stores what the next roll uses. Nothing is
		// ignored, because the engine keeps ignored inputs at their old
		// values also when it replaces a resource (pulumi/pulumi
		// pkg/resource/deploy/step_generator.go, generateSteps,
		// processIgnoreChanges): a roll must run with this run's system.
		Update:      pulumi.String(noOpUpdate),
		Interpreter: pulumi.ToStringArray([]string{"/bin/sh", "-c"}),
		Environment: env,
		// The private key only on stdin, never in the environment or on a
		// command line.
		Stdin:    pulumi.ToSecret(a.SSHPrivateKey).(pulumi.StringOutput),
		Triggers: triggers,
		Logging:  local.LoggingStdoutAndStderr,
	}, pulumi.Parent(b.r), pulumi.DependsOn(after))
	if err != nil {
		return nil, fmt.Errorf("RollingUpdate: %s: %w", n.Name, err)
	}
	b.r.Steps[n.Name] = cmd
	b.r.Order = append(b.r.Order, n.Name)
	return cmd, nil
}
