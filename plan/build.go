package plan

import (
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
// Project defaults come from <dir>/Pulumi.yaml, as the engine applies them.
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
	if stackName == "" {
		return nil, errors.New("plan: no stack name; pass the stack to plan, e.g. lab")
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
	if _, err := stack.ParseConfigIn(sc.lookup, dir); err != nil {
		return nil, fmt.Errorf("plan: stack %s (%s) is invalid:\n%w", stackName, path, err)
	}

	mon, log := newMonitor(proj.name, stackName), &engineLog{}
	cfg, lab, err := run(proj.name, stackName, dir, sc, mon, log)
	if err != nil {
		return nil, fmt.Errorf("plan: stack %s (%s):\n%w", stackName, path, err)
	}

	p := &Plan{
		Project:     proj.name,
		Stack:       stackName,
		Network:     cfg.Network.Mode,
		ContentHash: lab.Template.Hash,
		ISOFileName: lab.Template.ISOFileName,
		Warnings:    append(append([]string{}, sc.warnings...), log.warnings()...),
	}
	p.addResources(mon.registrations())
	if err := p.addNodes(cfg, lab); err != nil {
		return nil, fmt.Errorf("plan: stack %s: %w", stackName, err)
	}
	return p, nil
}

// run executes the stack program (stack.LoadConfig, stack.Deploy and the
// stack outputs, as stack.Program) as a preview against the in-process
// engine. It returns the program's own error, not the SDK's wrapping of it.
func run(project, stackName, dir string, sc *stackConfig, mon *monitor, log *engineLog) (*stack.Config, *stack.Lab, error) {
	eng, err := startEngine(mon, log)
	if err != nil {
		return nil, nil, err
	}
	defer eng.stop()
	var cfg *stack.Config
	var lab *stack.Lab
	var programErr error
	program := func(ctx *pulumi.Context) error {
		c, l, err := stack.Run(ctx, dir)
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
// dependency edges, both in plan order.
func (p *Plan) addResources(regs []*registration) {
	byURN := make(map[string]*registration, len(regs))
	for _, r := range regs {
		byURN[r.urn] = r
	}
	resources := make([]Resource, 0, len(regs))
	seen := map[Edge]bool{}
	edges := []Edge{}
	for _, r := range regs {
		resources = append(resources, Resource{
			URN:          r.urn,
			Type:         r.typ,
			Name:         r.name,
			Parent:       r.parent,
			Custom:       r.custom,
			Provider:     r.provider,
			Dependencies: append([]string{}, r.deps...),
			Inputs:       summarize(r, byURN),
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
}
