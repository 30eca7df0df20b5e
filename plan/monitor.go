package plan

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// registration is one resource the program registered.
type registration struct {
	urn      string
	typ      string
	name     string
	parent   string // "" for the top of the stack
	custom   bool
	provider string // provider URN, "" for a default provider
	deps     []string
	propDeps map[string][]string
	// ignoreChanges are the resource's ignoreChanges paths: changes there
	// never reach the provider.
	ignoreChanges []string
	// object is the inputs as the program sent them; inputs is object
	// decoded, after the program has run (see monitor.registrations).
	object *structpb.Struct
	inputs resource.PropertyMap
}

// monitor is the resource monitor of the plan's engine, for a preview in
// which nothing exists yet: every resource gets back its inputs and no ID,
// so everything a provider computes stays unknown. It records every
// registration. The SDK calls it from several goroutines.
type monitor struct {
	pulumirpc.UnimplementedResourceMonitorServer

	project, stack string
	// ctx stops the plan: once it is done, registrations are refused.
	ctx context.Context

	mu   sync.Mutex
	regs map[string]*registration // by URN
}

// newMonitor returns the monitor of a plan that ctx can stop.
func newMonitor(ctx context.Context, project, stack string) *monitor {
	return &monitor{ctx: ctx, project: project, stack: stack, regs: map[string]*registration{}}
}

// rpcOptions keep unknowns, secrets and resource references as they are:
// a preview sends unknown values, some of them secret.
var rpcOptions = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

// GetDeploymentInfo reports the monitor's features: secrets, resource
// references and alias specs, as the mock engine of the Pulumi SDK does;
// output values are not supported, so unknowns arrive as plain unknowns.
func (m *monitor) GetDeploymentInfo(context.Context, *emptypb.Empty) (*pulumirpc.DeploymentInfo, error) {
	return &pulumirpc.DeploymentInfo{
		Project: m.project,
		Stack:   m.stack,
		SupportedFeatures: []pulumirpc.ResourceMonitorFeature{
			pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_SECRETS,
			pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
			pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
			pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_DELETED_WITH,
		},
	}, nil
}

// SupportsFeature answers the SDK's older feature query the same way.
func (m *monitor) SupportsFeature(_ context.Context, req *pulumirpc.SupportsFeatureRequest) (*pulumirpc.SupportsFeatureResponse, error) {
	switch req.GetId() {
	case "secrets", "resourceReferences", "aliasSpecs", "deletedWith":
		return &pulumirpc.SupportsFeatureResponse{HasSupport: true}, nil
	}
	return &pulumirpc.SupportsFeatureResponse{HasSupport: false}, nil
}

// RegisterResource records a registration and answers as a preview of a
// new resource does: the inputs, nothing computed, no ID yet.
//
// Once the plan's context is done it refuses the registration with the
// context's error, so the program stops at its next resource.
func (m *monitor) RegisterResource(_ context.Context, req *pulumirpc.RegisterResourceRequest) (*pulumirpc.RegisterResourceResponse, error) {
	if err := m.ctx.Err(); err != nil {
		return nil, fmt.Errorf("plan: stopped before registering %s: %w", req.GetName(), err)
	}
	urn := m.urn(req.GetParent(), req.GetType(), req.GetName())
	if req.GetType() == string(resource.RootStackType) && req.GetParent() == "" {
		return &pulumirpc.RegisterResourceResponse{Urn: urn}, nil
	}
	reg := &registration{
		urn:      urn,
		typ:      req.GetType(),
		name:     req.GetName(),
		parent:   m.parentURN(req.GetParent()),
		custom:   req.GetCustom(),
		provider: providerURN(req.GetProvider()),
		deps:     sortedUnique(req.GetDependencies()),
		propDeps: map[string][]string{},
		object:   req.GetObject(),

		ignoreChanges: append([]string{}, req.GetIgnoreChanges()...),
	}
	for key, deps := range req.GetPropertyDependencies() {
		reg.propDeps[key] = sortedUnique(deps.GetUrns())
	}
	m.mu.Lock()
	m.regs[urn] = reg
	m.mu.Unlock()

	// A custom resource's outputs are its inputs, sent back as they came
	// (decoding and re-encoding them would cost time on the program's
	// critical path: clones are registered one after the other). A
	// component has no outputs until it registers them.
	var outputs *structpb.Struct
	if req.GetCustom() {
		outputs = req.GetObject()
	}
	return &pulumirpc.RegisterResourceResponse{Urn: urn, Object: outputs}, nil
}

// RegisterResourceOutputs accepts component and stack outputs.
func (m *monitor) RegisterResourceOutputs(context.Context, *pulumirpc.RegisterResourceOutputsRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// Invoke refuses provider functions: their results come from the real
// provider, which an offline plan does not run.
func (m *monitor) Invoke(_ context.Context, req *pulumirpc.ResourceInvokeRequest) (*pulumirpc.ResourceInvokeResponse, error) {
	return nil, fmt.Errorf("plan: the provider function %s needs the real provider; an offline plan cannot call it", req.GetTok())
}

// ReadResource refuses reads of existing resources, for the same reason.
func (m *monitor) ReadResource(_ context.Context, req *pulumirpc.ReadResourceRequest) (*pulumirpc.ReadResourceResponse, error) {
	return nil, fmt.Errorf("plan: reading the existing resource %s (%s) needs the real provider; an offline plan cannot do it", req.GetName(), req.GetType())
}

// SignalAndWaitForShutdown ends the program; there is nothing to wait for.
func (m *monitor) SignalAndWaitForShutdown(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// registrations returns every recorded registration, sorted by URN, with
// its inputs decoded. Decoding happens here, after the program has run,
// rather than in RegisterResource, to keep it off the program's critical
// path.
func (m *monitor) registrations() ([]*registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*registration, 0, len(m.regs))
	for _, r := range m.regs {
		if r.inputs == nil {
			inputs, err := decodeInputs(r)
			if err != nil {
				return nil, fmt.Errorf("inputs of %s: %w", r.urn, err)
			}
			r.inputs = inputs
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].urn < out[j].urn })
	return out, nil
}

// summarizedKeys are, by type, the only top-level inputs the plan reads
// (see summarize); other inputs of these types, such as a readiness
// check's triggers, are not decoded. Types not listed are decoded whole.
var summarizedKeys = map[string][]string{
	typeProxmox:       {"endpoint", "insecure", "apiToken", "ssh"},
	typePrivateKey:    {"algorithm"},
	typeLocalCommand:  {"create", "delete"},
	typeRemoteCommand: {"create", "connection"},
	typeNixOSTemplate: {},
	typeK8sNodeGroup:  {},
}

// decodeInputs decodes the inputs of r that the plan reads.
func decodeInputs(r *registration) (resource.PropertyMap, error) {
	keys, some := summarizedKeys[r.typ]
	if !some {
		return plugin.UnmarshalProperties(r.object, rpcOptions)
	}
	out := resource.PropertyMap{}
	fields := r.object.GetFields()
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			continue
		}
		v, err := plugin.UnmarshalPropertyValue(resource.PropertyKey(k), f, rpcOptions)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if v != nil {
			out[resource.PropertyKey(k)] = *v
		}
	}
	return out, nil
}

// urn forms a resource's URN as the Pulumi engine does.
func (m *monitor) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(typ), name))
}

// parentURN drops the root stack: resources directly under it are top-level.
func (m *monitor) parentURN(parent string) string {
	if parent == "" || resource.URN(parent).QualifiedType() == resource.RootStackType {
		return ""
	}
	return parent
}

// providerURN strips the ID from a provider reference ("<urn>::<id>"; a
// URN itself holds three "::").
func providerURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 && strings.Count(ref, "::") > 3 {
		return ref[:i]
	}
	return ref
}

// sortedUnique returns the strings sorted, without duplicates and empties.
func sortedUnique(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
