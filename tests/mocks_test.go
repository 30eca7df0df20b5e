package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// mockHostKey is the Proxmox host's ed25519 key the mock ssh-keyscan finds.
const mockHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGduv1etVrsUTD70C0EJnwb4E9sTCQbcxa3of7ltWa0E"

// testToken is a well-formed API token that must only ever travel as a secret.
const testToken = "root@pam!nixlab=0badc0de-1234-4321-abcd-0123456789ab"

// registration is one resource the program registered under mocks.
type registration struct {
	pulumi.MockResourceArgs
	URN string
}

// resState is what the engine keeps for a resource after a run: the inputs
// as checked (ignoreChanges applied) and the provider's state.
type resState struct {
	Type string
	ID   string
	// Provider is the provider reference (URN::ID) the resource was
	// registered with; "" for a default provider.
	Provider string
	Inputs   resource.PropertyMap
	State    resource.PropertyMap
}

// recorder is a Pulumi mock monitor that records every registration and
// answers with the state the real providers would hold: outputs are the
// provider read-back of internal/providermodel (not echoed inputs), and the
// only secrets added are the providers' sensitive fields. Given the state
// of an earlier run (prior), it plays the engine's part of a second run:
// it diffs the new inputs against that state with the resource's
// ignoreChanges, keeps the state of an unchanged resource, and updates or
// replaces a changed one.
type recorder struct {
	// preview leaves what a provider computes at creation unknown (command
	// output), as a real preview of new or replaced resources does.
	preview bool
	mu      sync.Mutex
	regs    map[string]registration // by resource name
	// prior is an earlier run's state by resource name; nil on a first run.
	prior map[string]resState
	// states is this run's resulting state by resource name.
	states map[string]resState
	// diffs are the diffs against prior, by resource name (resources that
	// were in prior only).
	diffs map[string]providermodel.DiffResult
	// world is the Proxmox-side status of VMs by resource name (default:
	// running as created).
	world map[string]providermodel.VMStatus
	// kubeServer is the API host in the kubeconfig kube-kubeconfig.sh
	// prints; "" means the node it runs on.
	kubeServer string
}

func newRecorder() *recorder {
	return &recorder{
		regs:   map[string]registration{},
		states: map[string]resState{},
		diffs:  map[string]providermodel.DiffResult{},
		world:  map[string]providermodel.VMStatus{},
	}
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	urn := ""
	var ignore []string
	if args.RegisterRPC != nil {
		urn = mockURN(args.RegisterRPC.GetParent(), args.TypeToken, args.Name)
		ignore = args.RegisterRPC.GetIgnoreChanges()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.regs[args.Name] = registration{MockResourceArgs: args, URN: urn}

	typ := args.TypeToken
	st := resState{Type: typ, ID: args.Name + "-id", Provider: args.Provider}
	old, existed := r.prior[args.Name]
	switch {
	case existed && old.Type == typ:
		d, err := providermodel.Diff(typ, old.Inputs, old.State, args.Inputs, ignore)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", args.Name, err)
		}
		// A resource whose provider (URN::ID) was replaced is replaced with
		// it (pulumi/pulumi pkg/resource/deploy/step_generator.go: a changed
		// provider reference is a replacement).
		if old.Provider != args.Provider {
			d.Changed = append(d.Changed, "provider")
			d.Replace = true
		}
		// The engine turns an update into a replacement when a changed
		// property is in replaceOnChanges (pulumi/pulumi pkg/resource/deploy/
		// step_generator.go, applyReplaceOnChanges).
		if args.RegisterRPC != nil && !d.Replace {
			for _, p := range d.Changed {
				for _, roc := range args.RegisterRPC.GetReplaceOnChanges() {
					if p == roc || strings.HasPrefix(p, roc+".") || strings.HasPrefix(p, roc+"[") {
						d.Replace = true
					}
				}
			}
		}
		r.diffs[args.Name] = d
		if d.Empty() {
			st = old
			break
		}
		// An update and a replacement alike take the ignored paths from
		// the old inputs: the engine resets them before Check, Diff and
		// Create whenever the resource has an old state (pulumi/pulumi
		// pkg/resource/deploy/step_generator.go, generateSteps:
		// `inputs = processIgnoreChanges(goal, oldInputs)`), so a replaced
		// command runs its old create text with its old environment if
		// that is ignored. What the provider computes (command output)
		// follows those inputs too.
		ignored, err := providermodel.ApplyIgnoreChanges(old.Inputs, args.Inputs, ignore)
		if err != nil {
			return "", nil, err
		}
		env := r.env(args, ignored)
		st.Inputs = providermodel.Check(typ, ignored)
		st.State = providermodel.ReadBack(typ, ignored, env)
		switch {
		case !d.Replace:
			st.ID = old.ID
		case typ == providermodel.TypeKubernetesProvider:
			// A new provider instance has a new ID (a UUID in the
			// engine), unlike a VM, whose ID is its fixed VM ID.
			st.ID = old.ID + "-replaced"
		}
	default:
		env := r.env(args, args.Inputs)
		st.Inputs = providermodel.Check(typ, args.Inputs)
		st.State = providermodel.ReadBack(typ, args.Inputs, env)
	}
	// Some providers derive the ID from what they generated (and Pulumi
	// stores IDs in plain text).
	if id, ok := providermodel.ID(typ, st.State); ok {
		st.ID = id
	}
	if args.RegisterRPC != nil {
		markAdditionalSecretOutputs(st.State, args.RegisterRPC.GetAdditionalSecretOutputs())
	}
	r.states[args.Name] = st
	return st.ID, st.State.Copy(), nil
}

// markAdditionalSecretOutputs plays the engine's part of the
// additionalSecretOutputs option: it records the named output properties
// as secrets, whatever the provider returned (pulumi/pulumi pkg/resource/
// deploy: the engine wraps each of them in a secret before the outputs
// reach the program and the state; the SDK's mock monitor does not).
func markAdditionalSecretOutputs(state resource.PropertyMap, names []string) {
	for _, n := range names {
		k := resource.PropertyKey(n)
		if v, ok := state[k]; ok && !v.IsSecret() && !v.IsComputed() {
			state[k] = resource.MakeSecret(v)
		}
	}
}

// env is what the mock world holds for a resource whose provider acts on
// inputs (as the engine hands them over, ignoreChanges applied): the fake
// tools' output, the VM's status, the generated key pair.
func (r *recorder) env(args pulumi.MockResourceArgs, inputs resource.PropertyMap) providermodel.Env {
	env := providermodel.Env{Preview: r.preview, Seed: args.Name}
	switch args.TypeToken {
	case providermodel.TypeLocalCommand:
		e := inputs["environment"]
		if !e.IsObject() {
			break
		}
		vars := e.ObjectValue()
		switch {
		case vars["NIXLAB_BUILD_KIND"].IsString() && vars["NIXLAB_BUILD_KIND"].StringValue() == "system":
			// build-iso.sh prints the toplevel the GC root points at.
			env.Stdout = mockNodeSystem(vars["NIXLAB_OUT_LINK"].StringValue())
		case strings.HasSuffix(args.Name, "-build"):
			env.Stdout = vars["NIXLAB_OUT_LINK"].StringValue() + "/iso/nixlab-installer.iso"
		case strings.HasSuffix(args.Name, "-upload"):
			env.Stdout = vars["NIXLAB_STORAGE"].StringValue() + ":iso/" + vars["NIXLAB_ISO_FILE_NAME"].StringValue()
		case strings.HasSuffix(args.Name, "-host-key"):
			// scripts/host-key.sh prints what ssh-keyscan found.
			// Answered in a preview too, like the address lookup: every
			// connection to the host (secret) carries the key.
			env.Stdout = mockHostKey + "\n"
			env.Preview = false
		}
	case providermodel.TypeRandomString, providermodel.TypeRandomPassword, providermodel.TypeRandomBytes:
		// Answered in a preview too, as the address lookup below: the
		// SDK's mock monitor cannot carry an unknown value inside a secret
		// input (the bootstrap configs on stdin are secrets built from these).
		env.Preview = false
	case providermodel.TypeRemoteCommand:
		env.Stdout = "ok"
		// Answered in a preview too, for the same reason: a readiness check
		// resolves its node's address, which the Kubernetes steps' secret
		// connections carry, and kube-init's hash and the kubeconfig flow
		// into secret inputs. A real preview leaves them unknown.
		env.Preview = false
		// A DHCP node's address lookup prints the lease. It is answered in
		// a preview too: the SDK's mock monitor cannot carry an unknown value
		// inside the readiness check's secret connection.
		if c := inputs["create"]; c.IsString() {
			if m := addressLookupRe.FindStringSubmatch(c.StringValue()); m != nil {
				id, _ := strconv.Atoi(m[1])
				env.Stdout = mockLeaseIP(id)
				env.Preview = false
			}
			// kube-init.sh prints kubeadm's discovery hash of the CA,
			// kube-kubeconfig.sh the admin kubeconfig.
			if m := kubeInitRe.FindStringSubmatch(c.StringValue()); m != nil {
				env.Stdout = mockCACertHash(m[1])
			}
			if m := kubeconfigRe.FindStringSubmatch(c.StringValue()); m != nil {
				env.Stdout = mockKubeconfig(m[1], r.kubeServer)
			}
		}
	case providermodel.TypeVM:
		env.VM = r.world[args.Name]
		if env.VM.IPv4 == "" && inputs["vmId"].IsNumber() {
			env.VM.IPv4 = mockLeaseIP(int(inputs["vmId"].NumberValue()))
		}
	case providermodel.TypePrivateKey:
		// As the TLS provider returns it: with a trailing newline.
		env.PublicKeyOpenssh = mockPublicKey + "\n"
		env.PrivateKeyOpenssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n"
	}
	return env
}

// stateSnapshot returns a copy of the run's resulting state by name.
func (r *recorder) stateSnapshot() map[string]resState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]resState{}
	for k, v := range r.states {
		out[k] = v
	}
	return out
}

// refreshed returns states as a `pulumi refresh` reads them once the world
// has changed: each VM in world is read back again from its stored inputs.
func refreshed(states map[string]resState, world map[string]providermodel.VMStatus) map[string]resState {
	out := map[string]resState{}
	for name, st := range states {
		if status, ok := world[name]; ok && st.Type == providermodel.TypeVM {
			if status.IPv4 == "" && st.Inputs["vmId"].IsNumber() {
				status.IPv4 = mockLeaseIP(int(st.Inputs["vmId"].NumberValue()))
			}
			st.State = providermodel.Refresh(st.Type, st.Inputs, providermodel.Env{VM: status})
		}
		out[name] = st
	}
	return out
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// addressLookupRe finds the VM ID in a node-address.sh command line.
var addressLookupRe = regexp.MustCompile(`'node-address' '(\d+)'`)

// kubeInitRe and kubeconfigRe find the node in kube-init.sh and
// kube-kubeconfig.sh command lines.
var (
	kubeInitRe   = regexp.MustCompile(`'kube-init' '([^']+)'`)
	kubeconfigRe = regexp.MustCompile(`'kube-kubeconfig' '([^']+)'`)
)

// mockCACertHash is the discovery hash kube-init.sh prints for a node:
// sha256:<64 hex>, as kubeadm's pubkeypin.Hash formats it.
func mockCACertHash(node string) string {
	sum := sha256.Sum256([]byte("ca of " + node))
	return "sha256:" + hex.EncodeToString(sum[:]) + "\n"
}

// mockClientKey is the (fake) client key inside the mock kubeconfig: a
// value the secret checks look for.
const mockClientKey = "bW9jay1jbGllbnQta2V5LW9mLWFkbWluLWNvbmY="

// mockKubeconfig is the admin.conf kube-kubeconfig.sh prints: server is
// the API host (the node unless the test sets another).
func mockKubeconfig(node, server string) string {
	if server == "" {
		server = node
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: nixlab
  cluster:
    server: https://%s:6443
    certificate-authority-data: Y2E=
contexts:
- name: kubernetes-admin@nixlab
  context:
    cluster: nixlab
    user: kubernetes-admin
current-context: kubernetes-admin@nixlab
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: %s
`, server, mockClientKey)
}

// mockNodeSystem is the node system build-iso.sh (NIXLAB_BUILD_KIND=system)
// prints for a GC root: a store path named as nixpkgs names a toplevel
// (<store>/<32 base-32 chars>-nixos-system-<name>-<version>), distinct per
// GC root (which names the node-system hash).
func mockNodeSystem(outLink string) string {
	const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"
	sum := sha256.Sum256([]byte(outLink))
	var h [32]byte
	for i := range h {
		h[i] = nixBase32[sum[i]%32]
	}
	return "/nix/store/" + string(h[:]) + "-nixos-system-nixos-26.05.20260101.0000000"
}

// mockLeaseIP is the DHCP address the mock guest agent reports for a VM ID:
// distinct for every VM ID below 64000.
func mockLeaseIP(vmID int) string {
	return fmt.Sprintf("192.168.%d.%d", vmID/250, vmID%250+2)
}

// mockURN forms a URN the way the mock monitor does (stack lab, project nixlab).
func mockURN(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN("lab", "nixlab", parentType, tokens.Type(typ), name))
}

func (r *recorder) get(t *testing.T, name string) registration {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, ok := r.regs[name]
	if !ok {
		t.Fatalf("resource %q was not registered; have %v", name, r.names())
	}
	return reg
}

func (r *recorder) names() []string {
	var names []string
	for n := range r.regs {
		names = append(names, n)
	}
	return names
}

// labConfig returns Pulumi config for the reference lab stack, with the API
// token added, an ssh-agent socket faked (nothing connects to it under
// mocks) and the state directory moved into a temp dir.
func labConfig(t *testing.T, overrides map[string]string) map[string]string {
	t.Helper()
	sf, err := stack.ReadStackFile(filepath.Join(testutil.RepoRoot(t), "Pulumi.lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sf.Values()
	cfg["nixlab:apiToken"] = testToken
	cfg["nixlab:stateDir"] = filepath.Join(t.TempDir(), "state")
	for k, v := range overrides {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	if os.Getenv("SSH_AUTH_SOCK") == "" {
		t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "agent.sock"))
	}
	return cfg
}

// runMocked runs program under mocks with the given config; dryRun selects
// preview (true) or update (false).
func runMocked(t *testing.T, cfg map[string]string, dryRun bool, program pulumi.RunFunc) (*recorder, error) {
	t.Helper()
	return runAgain(t, cfg, dryRun, program, nil, nil)
}

// runAgain runs program under mocks as a run after one that left prior
// (nil: a first run), with the VMs in world in the given status.
func runAgain(t *testing.T, cfg map[string]string, dryRun bool, program pulumi.RunFunc,
	prior map[string]resState, world map[string]providermodel.VMStatus) (*recorder, error) {
	t.Helper()
	rec := newRecorder()
	rec.preview = dryRun
	rec.prior = prior
	for k, v := range world {
		rec.world[k] = v
	}
	err := pulumi.RunErr(program, pulumi.WithMocks("nixlab", "lab", rec), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = []string{"nixlab:apiToken"}
		ri.DryRun = dryRun
	})
	return rec, err
}

// withLab is a program that loads the config, deploys the lab and hands
// both to fn.
func withLab(fn func(ctx *pulumi.Context, cfg *stack.Config, lab *stack.Lab) error) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := stack.LoadConfig(ctx)
		if err != nil {
			return err
		}
		lab, err := stack.Deploy(ctx, cfg)
		if err != nil {
			return err
		}
		return fn(ctx, cfg, lab)
	}
}

// await resolves an output inside a mocked program.
func await(ctx *pulumi.Context, out pulumi.Output) (internals.UnsafeAwaitOutputResult, error) {
	return internals.UnsafeAwaitOutput(context.Background(), out)
}

// revealed is v without its secret wrapper, if it has one (pulumi-command
// marks a whole connection secret when it holds a key).
func revealed(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return v.SecretValue().Element
	}
	return v
}

// plainStrings lists every non-secret string inside a property value.
func plainStrings(v resource.PropertyValue) []string {
	switch {
	case v.IsSecret():
		return nil
	case v.IsString():
		return []string{v.StringValue()}
	case v.IsArray():
		var out []string
		for _, e := range v.ArrayValue() {
			out = append(out, plainStrings(e)...)
		}
		return out
	case v.IsObject():
		var out []string
		for _, e := range v.ObjectValue() {
			out = append(out, plainStrings(e)...)
		}
		return out
	case v.IsOutput():
		return plainStrings(v.OutputValue().Element)
	}
	return nil
}
