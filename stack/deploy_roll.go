package stack

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
)

// RollingUpdateName is the resource name of the roll component.
const RollingUpdateName = "roll"

// deployRoll registers the roll of the node system through the running
// nodes (components.RollingUpdate), after the cluster (or, without
// Kubernetes, after the last readiness check): one roll step per node not
// held by nixlab:updates.hold, control planes first. A template built from a
// prebuilt ISO (nixlab:template.isoPath) has no node system to roll: its
// nodes get no roll steps.
func deployRoll(ctx *pulumi.Context, cfg *Config, lab *Lab, opts []pulumi.ResourceOption) error {
	t := lab.Template
	if t.NodeSystemHash == "" || t.SystemBuild == nil {
		return nil
	}
	args := &components.RollingUpdateArgs{
		System:            t.NodeSystem,
		SystemHash:        t.NodeSystemHash,
		SystemBuild:       t.SystemBuild,
		Kubernetes:        lab.Kubernetes != nil,
		KubernetesVersion: cfg.Kubernetes.Version,
		AdminUser:         cfg.AdminUser,
		SSHPrivateKey:     lab.SSHKey.PrivateKeyOpenssh,
		Policy: components.RollPolicy{
			MaxUnavailable: cfg.Updates.WorkersAtOnce(),
			DrainTimeout:   cfg.Updates.DrainTimeout(),
			HealthTimeout:  cfg.Updates.HealthTimeout(),
			Rollback:       cfg.Updates.RollbackEnabled(),
			Hold:           append([]string{}, cfg.Updates.Hold...),
		},
	}
	args.ControlPlanes, args.Workers = nodesByRole(cfg, lab)
	// The end of the clone chain: the last group's last clone, readiness
	// check or uncordon (groups are chained through CloneAfter).
	var last pulumi.Resource
	for _, name := range cfg.GroupOrder() {
		if g := lab.NodeGroups[name]; g != nil {
			last = g.LastClone
		}
	}
	if len(args.ControlPlanes)+len(args.Workers) == 0 {
		return nil
	}
	if last != nil {
		args.After = append(args.After, last)
	}
	if k := lab.Kubernetes; k != nil {
		// The cluster converged: every join of this update is done.
		args.After = append(args.After, k.Init)
		for _, s := range k.Nodes {
			args.After = append(args.After, s.Registered)
		}
	}
	r, err := components.NewRollingUpdate(ctx, RollingUpdateName, args, opts...)
	if err != nil {
		return fmt.Errorf("%s:updates: %w", Namespace, err)
	}
	lab.Roll = r
	return nil
}
