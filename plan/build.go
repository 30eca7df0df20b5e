package plan

import (
	"context"
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// Build reads <dir>/Pulumi.<stackName>.yaml, validates it with the same code
// as `pulumi up` (stack.ParseConfig), and renders the whole stack graph with
// the same stack.Deploy under an in-process mock engine that assumes nothing
// exists yet (a preview: DryRun = true, so nothing is written to disk and
// computed outputs stay unknown).
//
// The engine is the plan's own in-process mock (see engine.go), talked to
// over a unix socket in a private temporary directory; no network is used.
// Project defaults and declared types come from <dir>/Pulumi.yaml, as the
// Pulumi CLI applies them (stack.ReadStackConfig).
// Encrypted values are never decrypted: the API token is replaced by a
// well-formed placeholder secret (with a warning when it is not set at
// all). Relative paths in the config (key files, ISO, extra modules)
// resolve against the working directory, as they do for `pulumi up` run in
// the project directory.
//
// A config that `pulumi up` would refuse makes Build fail with the stack
// package's messages, each naming its key (errors.As finds the
// *stack.KeyError values).
func Build(dir, stackName string) (*Plan, error) {
	return BuildContext(context.Background(), dir, stackName)
}

// BuildContext is Build, stopped by ctx: once ctx is done, the plan's
// engine refuses every further registration, so the stack program ends at
// its next resource, and BuildContext returns an error wrapping ctx.Err()
// (errors.Is(err, context.Canceled) after an interrupt). The stack name
// must pass CheckStackName.
func BuildContext(ctx context.Context, dir, stackName string) (*Plan, error) {
	if err := CheckStackName(stackName); err != nil {
		return nil, fmt.Errorf("plan: stack %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plan: stack %s: %w", stackName, err)
	}
	proj, err := readProject(dir)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	sc, err := readStackConfig(dir, stackName, proj)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	path := stackFilePath(dir, stackName)
	// Unknown keys and the values of the known ones are reported at once.
	if _, err := stack.ParseConfigIn(sc.lookup, dir); err != nil || sc.keyErrs != nil {
		return nil, fmt.Errorf("plan: stack %s (%s) is invalid:\n%w", stackName, path, sc.locate(errors.Join(sc.keyErrs, err)))
	}
	return buildPlan(ctx, proj, stackName, sc, path, func(pctx *pulumi.Context) (*stack.Config, *stack.Lab, error) {
		return stack.Run(pctx, dir)
	}, dir)
}

// labProgram is the stack program a plan runs: stack.Run, or in
// benchmarks the same deployment of a config made in Go.
type labProgram func(ctx *pulumi.Context) (*stack.Config, *stack.Lab, error)

// buildPlan runs program under the plan's engine and assembles the plan from
// what it registered. path is the stack file, for messages.
func buildPlan(ctx context.Context, proj *project, stackName string, sc *stackConfig, path string, program labProgram, dir string) (*Plan, error) {
	mon, log := newMonitor(ctx, proj.name, stackName), &engineLog{}
	cfg, lab, err := run(proj.name, stackName, dir, sc, mon, log, program)
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The program's own error is then a consequence (a refused
		// registration); report the interruption.
		return nil, fmt.Errorf("plan: stack %s: stopped: %w", stackName, ctxErr)
	}
	if err != nil {
		return nil, fmt.Errorf("plan: stack %s (%s):\n%w", stackName, path, sc.locate(err))
	}

	p := &Plan{
		Project:     proj.name,
		Stack:       stackName,
		Network:     cfg.Network.Mode,
		ContentHash: lab.Template.Hash,
		ISOFileName: lab.Template.ISOFileName,
		Warnings:    append(append([]string{}, sc.warnings...), log.warnings()...),
	}
	regs, err := mon.registrations()
	if err != nil {
		return nil, fmt.Errorf("plan: stack %s: %w", stackName, err)
	}
	restart := p.addResources(regs)
	if err := p.addNodes(cfg, lab, restart); err != nil {
		return nil, fmt.Errorf("plan: stack %s: %w", stackName, err)
	}
	p.Kubernetes = summarizeKubernetes(cfg, p.Nodes)
	p.Updates = summarizeUpdates(cfg, lab.Template.NodeSystemHash, p.Nodes)
	return p, nil
}

// run executes the stack program (normally stack.Run: stack.LoadConfig,
// stack.Deploy and the stack outputs, as stack.Program) as a preview against the in-process
// engine. It returns the program's own error, not the SDK's wrapping of it.
func run(project, stackName, dir string, sc *stackConfig, mon *monitor, log *engineLog, labProgram labProgram) (*stack.Config, *stack.Lab, error) {
	eng, err := startEngine(mon, log)
	if err != nil {
		return nil, nil, err
	}
	defer eng.stop()
	var cfg *stack.Config
	var lab *stack.Lab
	var programErr error
	program := func(ctx *pulumi.Context) error {
		c, l, err := labProgram(ctx)
		if err != nil {
			programErr = err
			return err
		}
		cfg, lab = c, l
		return nil
	}
	err = pulumi.RunErr(program, func(ri *pulumi.RunInfo) {
		ri.Project, ri.Stack, ri.Organization = project, stackName, ""
		ri.Config = sc.values
		ri.ConfigSecretKeys = sc.secrets
		ri.DryRun = true
		ri.RootDirectory = dir
		ri.MonitorAddr, ri.EngineAddr = eng.addr, eng.addr
		ri.Mocks = nil
	})
	switch {
	case programErr != nil:
		return nil, nil, programErr
	case err != nil:
		return nil, nil, fmt.Errorf("running the stack program under the plan's engine: %w", err)
	case lab == nil:
		return nil, nil, errors.New("the stack program registered no lab")
	}
	return cfg, lab, nil
}

// addResources turns the registrations into the plan's resources and
// dependency edges, both in plan order. It returns the restart inputs of
// every VM (see restartInputs) by URN.
func (p *Plan) addResources(regs []*registration) map[string]Inputs {
	byURN := make(map[string]*registration, len(regs))
	for _, r := range regs {
		byURN[r.urn] = r
	}
	vms := newVMIndex(regs)
	resources := make([]Resource, 0, len(regs))
	restart := map[string]Inputs{}
	seen := map[Edge]bool{}
	edges := []Edge{}
	for _, r := range regs {
		if r.typ == typeVM {
			restart[r.urn] = restartInputs(r.inputs, r.ignoreChanges)
		}
		resources = append(resources, Resource{
			URN:          r.urn,
			Type:         r.typ,
			Name:         r.name,
			Parent:       r.parent,
			Custom:       r.custom,
			Provider:     r.provider,
			Dependencies: append([]string{}, r.deps...),
			Inputs:       summarize(r, byURN, vms),
		})
		for _, d := range r.deps {
			e := Edge{From: d, To: r.urn}
			if !seen[e] {
				seen[e] = true
				edges = append(edges, e)
			}
		}
	}
	p.Resources = orderResources(resources)
	orderEdges(edges, p.Resources)
	p.Edges = edges
	return restart
}
