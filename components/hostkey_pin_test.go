package components_test

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/nixlab/nixlab/components"
)

// hkMocks records registrations and answers like the providers: the host
// key scan prints scanOut (nothing in a preview), other commands "ok".
type hkMocks struct {
	scanOut string
	preview bool
	mu      sync.Mutex
	regs    map[string]pulumi.MockResourceArgs
}

func (m *hkMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.regs[args.Name] = args
	m.mu.Unlock()
	out := args.Inputs.Copy()
	switch args.TypeToken {
	case "command:local:Command", "command:remote:Command":
		// In a preview only the scan stays unknown: the SDK's mock monitor
		// cannot carry an unknown value inside a secret connection (the
		// readiness checks' hosts come from the address lookups).
		switch {
		case hkIsScan(args) && m.preview:
		case hkIsScan(args):
			out["stdout"] = resource.NewProperty(m.scanOut)
		default:
			out["stdout"] = resource.NewProperty("ok")
		}
	case "tls:index/privateKey:PrivateKey":
		out["publicKeyOpenssh"] = resource.NewProperty("ssh-ed25519 AAAAexample")
		out["privateKeyOpenssh"] = resource.MakeSecret(resource.NewProperty("private"))
	}
	return args.Name + "-id", out, nil
}

func (m *hkMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// hkIsScan tells the host key scan: a local command running host-key.sh.
func hkIsScan(args pulumi.MockResourceArgs) bool {
	return args.TypeToken == "command:local:Command" &&
		strings.Contains(args.Inputs["create"].StringValue(), "'host-key'")
}

func (m *hkMocks) scans() []pulumi.MockResourceArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []pulumi.MockResourceArgs
	for _, r := range m.regs {
		if hkIsScan(r) {
			out = append(out, r)
		}
	}
	return out
}

func (m *hkMocks) get(t *testing.T, name string) pulumi.MockResourceArgs {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.regs[name]
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	return r
}

// hostConnections are the resources that reach the Proxmox host: finalize,
// the upload (its environment) and the DHCP address lookups.
var hostConnections = []string{"tmpl-finalize", "workers-1-address", "workers-2-address"}

// hkLab registers a template and a DHCP node group on host, as a program
// that imports the components would.
func hkLab(ctx *pulumi.Context, t *testing.T, host components.ProxmoxHost) error {
	iso := filepath.Join(t.TempDir(), "prebuilt.iso")
	if err := os.WriteFile(iso, []byte("iso"), 0o644); err != nil {
		return err
	}
	tmpl, err := components.NewNixOSTemplate(ctx, "tmpl", &components.NixOSTemplateArgs{
		NodeName: pulumi.String("pve"), VMID: 9000, PrebuiltISO: iso,
		StateDir: filepath.Join(t.TempDir(), "state"), Host: host,
	})
	if err != nil {
		return err
	}
	_, err = components.NewK8sNodeGroup(ctx, "workers", &components.K8sNodeGroupArgs{
		ClusterName: "demo", Role: components.RoleWorker, Count: 2, VMIDStart: 9300,
		NodeName: pulumi.String("pve"), TemplateVMID: tmpl.VMID, Template: tmpl.Ready, AdminUser: "ops",
		SSHPublicKeys: pulumi.StringArray{pulumi.String("ssh-ed25519 AAAAexample")},
		SSHPrivateKey: pulumi.String("private"),
		Host:          host,
	})
	return err
}

func hkRun(t *testing.T, m *hkMocks, program pulumi.RunFunc) error {
	t.Helper()
	// Nothing dials it under mocks; without a key file the components need
	// an agent to be named.
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "agent.sock"))
	m.regs = map[string]pulumi.MockResourceArgs{}
	return pulumi.RunErr(program, pulumi.WithMocks("nixlab", "lab", m), func(ri *pulumi.RunInfo) {
		ri.DryRun = m.preview
	})
}

// hkConn is the connection input of a remote command, unwrapped from the
// secret pulumi marks it with when it holds a private key.
func hkConn(r pulumi.MockResourceArgs) resource.PropertyMap {
	v := r.Inputs["connection"]
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v.ObjectValue()
}

func hkKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPinProxmoxHostKey_OneScanForAllConnections: pinned once, the host key
// is recorded by one scan, and every connection to the host (finalize, the
// upload's ssh, the address lookups) checks that key and waits for the scan.
func TestPinProxmoxHostKey_OneScanForAllConnections(t *testing.T) {
	key := ed25519Line(t)
	m := &hkMocks{scanOut: key + "\n"}
	keyFile := hkKeyFile(t)
	err := hkRun(t, m, func(ctx *pulumi.Context) error {
		host, scan, err := components.PinProxmoxHostKey(ctx, "proxmox-host-key",
			components.ProxmoxHost{Address: "pve.lab.example", Port: 2222, PrivateKeyFile: keyFile})
		if err != nil {
			return err
		}
		if scan == nil {
			t.Error("no scan resource returned")
		}
		return hkLab(ctx, t, host)
	})
	if err != nil {
		t.Fatal(err)
	}
	scans := m.scans()
	if len(scans) != 1 || scans[0].Name != "proxmox-host-key" {
		var names []string
		for _, s := range scans {
			names = append(names, s.Name)
		}
		t.Fatalf("scans %q, want exactly proxmox-host-key", names)
	}
	scan := scans[0]
	env := scan.Inputs["environment"].ObjectValue()
	if env["NIXLAB_SSH_HOST"].StringValue() != "pve.lab.example" || env["NIXLAB_SSH_PORT"].StringValue() != "2222" {
		t.Errorf("scan environment %v", env)
	}
	trig := scan.Inputs["triggers"].ArrayValue()
	if len(trig) != 2 || trig[0].StringValue() != "pve.lab.example" || trig[1].NumberValue() != 2222 {
		t.Errorf("scan triggers %v, want [address, port]", trig)
	}
	if got := scan.RegisterRPC.GetIgnoreChanges(); !slices.Equal(got, components.HostKeyScanIgnoreChanges()) {
		t.Errorf("scan ignoreChanges %q", got)
	}
	scanURN := func(deps []string) bool {
		return slices.ContainsFunc(deps, func(u string) bool { return strings.HasSuffix(u, "::proxmox-host-key") })
	}
	for _, name := range hostConnections {
		r := m.get(t, name)
		conn := hkConn(r)
		if got := conn["hostKey"].StringValue(); got != key {
			t.Errorf("%s: hostKey %q, want the recorded %q", name, got, key)
		}
		if !scanURN(r.RegisterRPC.GetDependencies()) {
			t.Errorf("%s does not wait for the scan: %q", name, r.RegisterRPC.GetDependencies())
		}
		hkCheckNoAgent(t, name, conn)
	}
	up := m.get(t, "tmpl-upload")
	if got := up.Inputs["environment"].ObjectValue()["NIXLAB_SSH_HOST_KEY"].StringValue(); got != key {
		t.Errorf("upload NIXLAB_SSH_HOST_KEY %q, want %q", got, key)
	}
	if !scanURN(up.RegisterRPC.GetDependencies()) {
		t.Errorf("the upload does not wait for the scan")
	}
}

// hkCheckNoAgent: a connection names no agent socket of nixlab's own (the
// engine keeps a command's stored connection when it replaces it, so a
// per-process socket would be dead then; see components/host_agent.go).
func hkCheckNoAgent(t *testing.T, name string, conn resource.PropertyMap) {
	t.Helper()
	if sock := conn["agentSocketPath"]; sock.IsString() && sock.StringValue() != "" {
		t.Errorf("%s: agentSocketPath %q: a connection must be the same in every run", name, sock.StringValue())
	}
}

// TestPinProxmoxHostKey_Configured: a configured key is used everywhere
// (reduced to "<type> <base64>"), and nothing scans. Without a key file the
// agent of the provider's environment is used: no agentSocketPath.
func TestPinProxmoxHostKey_Configured(t *testing.T) {
	key := ed25519Line(t)
	m := &hkMocks{scanOut: "never read"}
	err := hkRun(t, m, func(ctx *pulumi.Context) error {
		host, scan, err := components.PinProxmoxHostKey(ctx, "proxmox-host-key",
			components.ProxmoxHost{Address: "pve", HostKey: pulumi.String("  " + key + " root@pve\n")})
		if err != nil {
			return err
		}
		if scan != nil {
			t.Error("a scan was registered for a configured key")
		}
		return hkLab(ctx, t, host)
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := m.scans(); len(s) != 0 {
		t.Fatalf("%d scans registered with a configured key", len(s))
	}
	for _, name := range hostConnections {
		conn := hkConn(m.get(t, name))
		if got := conn["hostKey"].StringValue(); got != key {
			t.Errorf("%s: hostKey %q, want %q", name, got, key)
		}
		if _, ok := conn["agentSocketPath"]; ok {
			t.Errorf("%s: agentSocketPath set without a key file", name)
		}
	}
	if got := m.get(t, "tmpl-upload").Inputs["environment"].ObjectValue()["NIXLAB_SSH_HOST_KEY"].StringValue(); got != key {
		t.Errorf("upload NIXLAB_SSH_HOST_KEY %q", got)
	}
}

// TestPinProxmoxHostKey_ComponentsPinOnTheirOwn: a component given no key
// records one itself (its own scan, its child), so no connection is ever
// made unchecked.
func TestPinProxmoxHostKey_ComponentsPinOnTheirOwn(t *testing.T) {
	key := ed25519Line(t)
	m := &hkMocks{scanOut: key + "\n"}
	if err := hkRun(t, m, func(ctx *pulumi.Context) error {
		return hkLab(ctx, t, components.ProxmoxHost{Address: "pve"})
	}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range m.scans() {
		names = append(names, s.Name)
		if p := s.RegisterRPC.GetParent(); !strings.HasSuffix(p, "::"+strings.TrimSuffix(s.Name, "-host-key")) {
			t.Errorf("scan %s has parent %q, want its component", s.Name, p)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"tmpl-host-key", "workers-host-key"}) {
		t.Errorf("scans %q", names)
	}
	for _, name := range hostConnections {
		if got := hkConn(m.get(t, name))["hostKey"].StringValue(); got != key {
			t.Errorf("%s: hostKey %q", name, got)
		}
	}
}

// TestPinProxmoxHostKey_Refused: an RSA key, configured or recorded, fails
// the deployment with the fix; a preview scans nothing and leaves the key
// unknown without failing.
func TestPinProxmoxHostKey_Refused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaLine := authorizedLine(t, &rsaKey.PublicKey)
	for _, tc := range []struct {
		name    string
		hostKey pulumi.StringInput
		scanOut string
		preview bool
		want    []string // error parts; nil: no error
	}{
		{"configured rsa", pulumi.String(rsaLine), "", false,
			[]string{components.HostKeySetting, "RSA", "ssh-keyscan -t ed25519"}},
		{"recorded rsa", nil, rsaLine + "\n", false,
			[]string{"proxmox-host-key: the host key recorded for pve:22 cannot be pinned", "RSA", "replace proxmox-host-key"}},
		{"recorded nothing", nil, "", false, []string{"is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &hkMocks{scanOut: tc.scanOut, preview: tc.preview}
			err := hkRun(t, m, func(ctx *pulumi.Context) error {
				host, _, err := components.PinProxmoxHostKey(ctx, "proxmox-host-key",
					components.ProxmoxHost{Address: "pve", HostKey: tc.hostKey})
				if err != nil {
					return err
				}
				return hkLab(ctx, t, host)
			})
			if err == nil {
				t.Fatal("deployment succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if f := strings.Fields(rsaLine); strings.Contains(err.Error(), f[1]) {
				t.Error("the error repeats the key")
			}
		})
	}
}

// TestPinProxmoxHostKey_Preview: a preview runs no scan; the key is unknown
// and nothing fails. (Only checked on a local command's environment: the
// SDK's mock monitor cannot unmarshal an unknown value inside the secret
// that pulumi-command's SDK makes of every remote connection; the engine
// can.)
func TestPinProxmoxHostKey_Preview(t *testing.T) {
	m := &hkMocks{preview: true}
	err := hkRun(t, m, func(ctx *pulumi.Context) error {
		host, _, err := components.PinProxmoxHostKey(ctx, "proxmox-host-key", components.ProxmoxHost{Address: "pve"})
		if err != nil {
			return err
		}
		_, err = local.NewCommand(ctx, "uses-key", &local.CommandArgs{
			Create:      pulumi.String("true"),
			Environment: pulumi.StringMap{"NIXLAB_SSH_HOST_KEY": host.HostKey},
		})
		if err != nil {
			return err
		}
		res, err := internals.UnsafeAwaitOutput(ctx.Context(), host.HostKey.ToStringOutput())
		if err != nil {
			return err
		}
		if res.Known {
			t.Errorf("preview host key %v is known, want unknown", res.Value)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("preview failed: %v", err)
	}
	if len(m.scans()) != 1 {
		t.Fatal("the scan is not part of the preview")
	}
	// The mock monitor drops unknown values: the input is absent or null.
	if hk := m.get(t, "uses-key").Inputs["environment"].ObjectValue()["NIXLAB_SSH_HOST_KEY"]; hk.IsString() {
		t.Errorf("preview host key %q, want unknown", hk.StringValue())
	}
}
