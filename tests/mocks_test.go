package tests

import (
	"context"
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

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// testToken is a well-formed API token that must only ever travel as a secret.
const testToken = "root@pam!nixlab=0badc0de-1234-4321-abcd-0123456789ab"

// registration is one resource the program registered under mocks.
type registration struct {
	pulumi.MockResourceArgs
	URN string
}

// recorder is a Pulumi mock monitor that records every registration and
// answers with what the real providers would compute.
type recorder struct {
	// preview leaves what a provider computes at creation unknown (command
	// output), as a real preview of new or replaced resources does.
	preview bool
	mu      sync.Mutex
	regs    map[string]registration // by resource name
}

func newRecorder() *recorder {
	return &recorder{regs: map[string]registration{}}
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	urn := ""
	if args.RegisterRPC != nil {
		urn = mockURN(args.RegisterRPC.GetParent(), args.TypeToken, args.Name)
	}
	r.mu.Lock()
	r.regs[args.Name] = registration{MockResourceArgs: args, URN: urn}
	r.mu.Unlock()

	out := args.Inputs.Copy()
	switch args.TypeToken {
	case "command:local:Command":
		if r.preview {
			break
		}
		env := args.Inputs["environment"].ObjectValue()
		switch {
		case strings.HasSuffix(args.Name, "-build"):
			out["stdout"] = resource.NewStringProperty(env["NIXLAB_OUT_LINK"].StringValue() + "/iso/nixlab-installer.iso")
		case strings.HasSuffix(args.Name, "-upload"):
			out["stdout"] = resource.NewStringProperty(env["NIXLAB_STORAGE"].StringValue() + ":iso/" + env["NIXLAB_ISO_FILE_NAME"].StringValue())
		}
	case "command:remote:Command":
		// A DHCP node's address lookup prints the lease. It is answered in
		// a preview too: the SDK's mock monitor cannot carry an unknown value
		// inside the readiness check's secret connection.
		if m := addressLookupRe.FindStringSubmatch(args.Inputs["create"].StringValue()); m != nil {
			id, _ := strconv.Atoi(m[1])
			out["stdout"] = resource.NewStringProperty(mockLeaseIP(id))
			break
		}
		if !r.preview {
			out["stdout"] = resource.NewStringProperty("ok")
		}
	case "proxmoxve:VM/virtualMachine:VirtualMachine":
		out["vmId"] = args.Inputs["vmId"]

	case "tls:index/privateKey:PrivateKey":
		// As the TLS provider returns it: with a trailing newline.
		out["publicKeyOpenssh"] = resource.NewStringProperty(mockPublicKey + "\n")
		out["privateKeyOpenssh"] = resource.MakeSecret(resource.NewStringProperty("-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n"))
	}
	return args.Name + "-id", out, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// addressLookupRe finds the VM ID in a node-address.sh command line.
var addressLookupRe = regexp.MustCompile(`'node-address' '(\d+)'`)

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
	rec := newRecorder()
	rec.preview = dryRun
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
