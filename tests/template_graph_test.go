package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

// deployLab runs LoadConfig + Deploy under mocks and returns the recorder
// and the Lab.
func deployLab(t *testing.T, cfg map[string]string, dryRun bool) (*recorder, *stack.Lab) {
	t.Helper()
	var lab *stack.Lab
	rec, err := runMocked(t, cfg, dryRun, withLab(func(_ *pulumi.Context, _ *stack.Config, l *stack.Lab) error {
		lab = l
		return nil
	}))
	if err != nil {
		t.Fatalf("deploy under mocks: %v", err)
	}
	return rec, lab
}

func TestProgramRunsOnLabStack(t *testing.T) {
	rec, err := runMocked(t, labConfig(t, nil), false, stack.Program)
	if err != nil {
		t.Fatalf("stack.Program: %v", err)
	}
	for _, name := range []string{"proxmox", "ssh-key", "template", "template-system", "template-build", "template-upload", "template-vm", "template-finalize"} {
		rec.get(t, name)
	}
}

func TestTemplateChildrenTypesAndParents(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	comp := rec.get(t, "template")
	if comp.TypeToken != "nixlab:index:NixOSTemplate" || comp.Custom {
		t.Fatalf("template component: type %q custom %v", comp.TypeToken, comp.Custom)
	}
	children := []struct{ name, typ string }{
		{"template-system", "command:local:Command"},
		{"template-build", "command:local:Command"},
		{"template-upload", "command:local:Command"},
		{"template-vm", "proxmoxve:VM/virtualMachine:VirtualMachine"},
		{"template-finalize", "command:remote:Command"},
	}
	for _, c := range children {
		reg := rec.get(t, c.name)
		if reg.TypeToken != c.typ {
			t.Errorf("%s: type %q, want %q", c.name, reg.TypeToken, c.typ)
		}
		if got := reg.RegisterRPC.GetParent(); got != comp.URN {
			t.Errorf("%s: parent %q, want the component %q", c.name, got, comp.URN)
		}
	}
}

func TestTemplateDependencyChain(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	chain := []string{"template-system", "template-build", "template-upload", "template-vm", "template-finalize"}
	for i := 1; i < len(chain); i++ {
		prev, cur := rec.get(t, chain[i-1]), rec.get(t, chain[i])
		if !slices.Contains(cur.RegisterRPC.GetDependencies(), prev.URN) {
			t.Errorf("%s does not depend on %s; deps %v", chain[i], chain[i-1], cur.RegisterRPC.GetDependencies())
		}
	}
	// The data edges, not only the ordering: the upload reads the build's
	// ISO path, the VM mounts the upload's volume.
	upload := rec.get(t, "template-upload")
	if deps := upload.RegisterRPC.GetPropertyDependencies()["environment"]; deps == nil || !slices.Contains(deps.GetUrns(), rec.get(t, "template-build").URN) {
		t.Errorf("upload environment does not come from the build output")
	}
	vmReg := rec.get(t, "template-vm")
	if deps := vmReg.RegisterRPC.GetPropertyDependencies()["cdrom"]; deps == nil || !slices.Contains(deps.GetUrns(), upload.URN) {
		t.Errorf("VM cdrom does not come from the upload output")
	}
}

func TestTemplateResourceOptions(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	vmReg := rec.get(t, "template-vm")
	ignored := vmReg.RegisterRPC.GetIgnoreChanges()
	// What finalize changes, the agent fields a stopped template makes
	// computed, and the disk speed block (see TemplateVMIgnoreChanges).
	for _, p := range []string{"started", "template", "cdrom", "bootOrders", "ipv4Addresses", "ipv6Addresses", "networkInterfaceNames", "disks[0].speed"} {
		if !slices.Contains(ignored, p) {
			t.Errorf("VM ignoreChanges %v lacks %q", ignored, p)
		}
	}
	if !vmReg.RegisterRPC.GetDeleteBeforeReplace() {
		t.Error("VM with a fixed VM ID must be delete-before-replace")
	}
	if !slices.Contains(vmReg.RegisterRPC.GetReplaceOnChanges(), "description") {
		t.Errorf("VM replaceOnChanges %v lacks description (the content hash)", vmReg.RegisterRPC.GetReplaceOnChanges())
	}
	// The local commands ignore their script texts (a newer nixlab does
	// not rebuild), never their environment or triggers: the engine keeps
	// an ignored input's old value on a replacement too, and the
	// environment holds per-hash paths and the ISO name
	// (TestImageChangeReplacesBuildsWithTheNewEnvironment).
	for _, name := range []string{"template-system", "template-build", "template-upload"} {
		ig := rec.get(t, name).RegisterRPC.GetIgnoreChanges()
		for _, p := range []string{"create", "delete"} {
			if !slices.Contains(ig, p) {
				t.Errorf("%s ignoreChanges %v lacks %q: a newer script would run it again", name, ig, p)
			}
		}
		for _, p := range []string{"environment", "triggers"} {
			if slices.Contains(ig, p) {
				t.Errorf("%s ignores %q (%v): a replacement would keep the old value", name, p, ig)
			}
		}
	}
	// Finalize's create command carries the VM ID and its connection the
	// host: a replacement must take both from the program; an update (a
	// newer script, another key) does nothing.
	fin := rec.get(t, "template-finalize")
	if ig := fin.RegisterRPC.GetIgnoreChanges(); len(ig) != 0 {
		t.Errorf("finalize ignores %v: a replacement would run with the stored values", ig)
	}
	if up := fin.Inputs["update"]; !up.IsString() || up.StringValue() != "true" {
		t.Errorf("finalize update = %v, want the no-op true", up)
	}
}

func TestTemplateUsesTheExplicitProvider(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	prov := rec.get(t, "proxmox")
	if prov.TypeToken != "pulumi:providers:proxmoxve" {
		t.Fatalf("provider type %q", prov.TypeToken)
	}
	vmReg := rec.get(t, "template-vm")
	if !strings.HasPrefix(vmReg.Provider, prov.URN+"::") {
		t.Errorf("VM provider %q is not the explicit provider %q", vmReg.Provider, prov.URN)
	}
	in := prov.Inputs
	if in["endpoint"].StringValue() != "https://192.168.1.5:8006/" || !in["insecure"].BoolValue() {
		t.Errorf("provider endpoint/insecure = %v/%v", in["endpoint"], in["insecure"])
	}
}

// TestAPITokenOnlyAsSecret checks that the token appears nowhere in plain
// text. That it is secret at all is also the SDK's doing
// (proxmoxve.NewProvider wraps it); nixlab's own ToSecret is checked before
// the SDK in stack.TestProviderArgsTokenIsSecret.
func TestAPITokenOnlyAsSecret(t *testing.T) {
	cfg := labConfig(t, nil)
	rec, _ := deployLab(t, cfg, false)
	token := rec.get(t, "proxmox").Inputs["apiToken"]
	if !token.IsSecret() {
		t.Fatalf("provider apiToken is not a secret: %v", token)
	}
	if got := token.SecretValue().Element.StringValue(); got != testToken {
		t.Fatalf("provider apiToken = %q, want the configured token", got)
	}
	for name, reg := range rec.regs {
		for _, s := range plainStrings(resource.NewObjectProperty(reg.Inputs)) {
			if strings.Contains(s, testToken) || strings.Contains(s, "0badc0de-1234") {
				t.Errorf("%s carries the API token in a plain input", name)
			}
		}
	}
	// Nothing written locally holds it either.
	_ = filepath.WalkDir(cfg["nixlab:stateDir"], func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "0badc0de") {
				t.Errorf("%s holds the API token", p)
			}
		}
		return nil
	})
}

func TestSSHPrivateKeyFileIsSecret(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-material\n-----END OPENSSH PRIVATE KEY-----\n"
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	proxmox := `{"endpoint":"https://192.168.1.5:8006/","node":"pve","ssh":{"host":"192.168.1.5","privateKeyFile":"` + keyFile + `","hostKey":"` + mockHostKey + `"}}`
	cfg := labConfig(t, map[string]string{"nixlab:proxmox": proxmox})
	rec, _ := deployLab(t, cfg, false)
	rawConn := rec.get(t, "template-finalize").Inputs["connection"]
	conn := revealed(rawConn)
	pk := conn.ObjectValue()["privateKey"]
	if !rawConn.IsSecret() && !pk.IsSecret() {
		t.Fatalf("finalize connection privateKey is not a secret")
	}
	if conn.ObjectValue()["hostKey"].StringValue() == "" {
		t.Error("host key not passed to the remote connection")
	}
	for name, reg := range rec.regs {
		for _, s := range plainStrings(resource.NewObjectProperty(reg.Inputs)) {
			if strings.Contains(s, "secret-key-material") {
				t.Errorf("%s carries the private key in a plain input", name)
			}
		}
	}
	// The upload's ssh gets the key by path and checks the host key.
	env := rec.get(t, "template-upload").Inputs["environment"].ObjectValue()
	if env["NIXLAB_SSH_KEY_FILE"].StringValue() != keyFile {
		t.Errorf("upload key file = %v", env["NIXLAB_SSH_KEY_FILE"])
	}
	if hk := env["NIXLAB_SSH_HOST_KEY"].StringValue(); !strings.HasPrefix(hk, "ssh-ed25519 AAAA") {
		t.Errorf("upload host key = %q, want the configured key", hk)
	}
}

func TestInstallerVMInputs(t *testing.T) {
	rec, lab := deployLab(t, labConfig(t, nil), false)
	in := rec.get(t, "template-vm").Inputs
	short := lab.Template.Hash[:16]
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"vmId", in["vmId"].NumberValue(), 9000.0},
		{"nodeName", in["nodeName"].StringValue(), "pve"},
		{"name", in["name"].StringValue(), "nixlab-template"},
		{"bios", in["bios"].StringValue(), "seabios"},
		{"scsiHardware", strings.HasPrefix(in["scsiHardware"].StringValue(), "virtio-scsi"), true},
		{"started", in["started"].BoolValue(), true},
		{"disk interface", disk(in)["interface"].StringValue(), "scsi0"},
		{"disk datastore", disk(in)["datastoreId"].StringValue(), "local-lvm"},
		{"disk size", disk(in)["size"].NumberValue(), 20.0},
		{"disk format", disk(in)["fileFormat"].StringValue(), "raw"},
		{"cdrom interface", in["cdrom"].ObjectValue()["interface"].StringValue(), "ide3"},
		{"cdrom iso", in["cdrom"].ObjectValue()["fileId"].StringValue(), "local:iso/" + lab.Template.ISOFileName},
		{"iso name is the template's, not the image's", strings.HasPrefix(lab.Template.ISOFileName, "nixlab-9000-") && !strings.Contains(lab.Template.ISOFileName, short), true},
		{"boot order", strings.Join(stringsOf(in["bootOrders"]), ","), "scsi0,ide3"},
		{"bridge", in["networkDevices"].ArrayValue()[0].ObjectValue()["bridge"].StringValue(), "vmbr0"},
		{"nic model", in["networkDevices"].ArrayValue()[0].ObjectValue()["model"].StringValue(), "virtio"},
		{"agent", in["agent"].ObjectValue()["enabled"].BoolValue(), true},
		{"hash in description", strings.Contains(in["description"].StringValue(), lab.Template.Hash), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("VM %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestCommandInputs(t *testing.T) {
	cfg := labConfig(t, nil)
	rec, lab := deployLab(t, cfg, false)
	hash, short := lab.Template.Hash, lab.Template.Hash[:16]

	build := rec.get(t, "template-build").Inputs
	trig := build["triggers"].ArrayValue()
	if len(trig) != 2 || trig[0].StringValue() != hash {
		t.Errorf("build triggers = %v, want [content hash, target]", trig)
	}
	if utrig := rec.get(t, "template-upload").Inputs["triggers"].ArrayValue(); len(utrig) != 3 || !utrig[0].DeepEquals(trig[0]) || !utrig[1].DeepEquals(trig[1]) || utrig[2].NumberValue() != 9000 {
		t.Errorf("upload triggers %v, want the build's %v and the template VM ID", utrig, trig)
	}
	benv := build["environment"].ObjectValue()
	if got := benv["NIXLAB_FLAKE_DIR"].StringValue(); got != filepath.Join(cfg["nixlab:stateDir"], "src", short) {
		t.Errorf("flake dir = %q", got)
	}
	if !strings.Contains(build["create"].StringValue(), "'build-iso' 'create'") {
		t.Errorf("build create does not run build-iso.sh create")
	}

	upload := rec.get(t, "template-upload").Inputs
	uenv := upload["environment"].ObjectValue()
	if got := uenv["NIXLAB_ISO_FILE_NAME"].StringValue(); got != lab.Template.ISOFileName || got != "nixlab-9000-"+filepath.Base(benv["NIXLAB_OUT_LINK"].StringValue())[len(short)+1:]+".iso" {
		t.Errorf("ISO file name %q, want nixlab-<template VM ID>-<target>.iso", got)
	}
	if got := uenv["NIXLAB_ISO_PATH"].StringValue(); !strings.HasPrefix(got, filepath.Join(cfg["nixlab:stateDir"], "iso", short)) {
		t.Errorf("upload reads %q, not the build's GC-rooted ISO", got)
	}
	if uenv["NIXLAB_SSH_HOST"].StringValue() != "192.168.1.5" || uenv["NIXLAB_STORAGE"].StringValue() != "local" {
		t.Errorf("upload target = %v/%v", uenv["NIXLAB_SSH_HOST"], uenv["NIXLAB_STORAGE"])
	}
	if !strings.Contains(upload["delete"].StringValue(), "'upload-iso' 'delete'") {
		t.Errorf("upload delete does not remove the uploaded ISO")
	}

	fin := rec.get(t, "template-finalize").Inputs
	if !strings.Contains(fin["create"].StringValue(), "'finalize-template' '9000' '3600' '15' 'ide3'") {
		t.Errorf("finalize create lacks its arguments: ...%s", tail(fin["create"].StringValue(), 80))
	}
	if fin["delete"].HasValue() {
		t.Errorf("finalize must not delete anything (the VM resource owns the template)")
	}
}

func TestRenderedSourcesOnUpdateOnly(t *testing.T) {
	cfg := labConfig(t, nil)
	_, lab := deployLab(t, cfg, true)
	if _, err := os.Stat(cfg["nixlab:stateDir"]); !os.IsNotExist(err) {
		t.Fatalf("preview wrote into the state directory (%v)", err)
	}
	_, lab2 := deployLab(t, cfg, false)
	if lab.Template.Hash != lab2.Template.Hash {
		t.Fatal("preview and update disagree on the content hash")
	}
	dir := filepath.Join(cfg["nixlab:stateDir"], "src", lab.Template.Hash[:16])
	for _, f := range []string{"flake.nix", "lib/settings.nix", "modules/installer.nix", "scripts/install.sh"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("rendered tree lacks %s: %v", f, err)
		}
	}
	var settings struct {
		AdminUser  string `json:"adminUser"`
		SwapSizeGB int    `json:"swapSizeGb"`
		NFS        struct {
			Server, Export, MountPoint string
			Options                    []string
		} `json:"nfs"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &settings); err != nil {
		t.Fatal(err)
	}
	if settings.AdminUser != "nixos" || settings.SwapSizeGB != 2 || settings.NFS.Server != "192.168.1.4" ||
		settings.NFS.Export != "/volume1/k8s-cluster-storage" || settings.NFS.MountPoint != "/mnt/nfs" || len(settings.NFS.Options) == 0 {
		t.Errorf("settings.json = %s", b)
	}
}

func TestTemplateOutputs(t *testing.T) {
	cfg := labConfig(t, nil)
	_, err := runMocked(t, cfg, false, withLab(func(ctx *pulumi.Context, _ *stack.Config, lab *stack.Lab) error {
		id, err := await(ctx, lab.Template.TemplateVmId)
		if err != nil || id.Value != 9000 {
			t.Errorf("TemplateVmId = %v (%v)", id.Value, err)
		}
		if !slices.ContainsFunc(id.Dependencies, func(r pulumi.Resource) bool { return r == pulumi.Resource(lab.Template.Finalize) }) {
			t.Errorf("TemplateVmId does not wait for finalize")
		}
		iso, err := await(ctx, lab.Template.IsoFileId)
		if err != nil || iso.Value != "local:iso/"+lab.Template.ISOFileName {
			t.Errorf("IsoFileId = %v (%v)", iso.Value, err)
		}
		h, err := await(ctx, lab.Template.ContentHash)
		if err != nil || h.Value != lab.Template.Hash || len(lab.Template.Hash) != 64 {
			t.Errorf("ContentHash = %v (%v)", h.Value, err)
		}
		key, err := await(ctx, lab.SSHKey.PrivateKeyOpenssh)
		if err != nil || !key.Secret {
			t.Errorf("ssh private key output is not secret (%v)", err)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
}

func TestBadConfigCreatesNothing(t *testing.T) {
	cfg := labConfig(t, map[string]string{"nixlab:template": `{"vmId":42}`})
	rec, err := runMocked(t, cfg, false, stack.Program)
	if err == nil || !strings.Contains(err.Error(), "nixlab:template.vmId") {
		t.Fatalf("error = %v, want one naming nixlab:template.vmId", err)
	}
	if n := len(rec.regs); n != 0 {
		t.Fatalf("%d resources registered despite the bad config: %v", n, rec.names())
	}
}

func TestMisspelledKeyRefused(t *testing.T) {
	cfg := labConfig(t, nil)
	// As the Pulumi CLI passes the stack config to the program.
	t.Setenv("PULUMI_CONFIG", `{"nixlab:proxmox":"{}","nixlab:nodeGroup":"{}","aws:region":"x"}`)
	rec, err := runMocked(t, cfg, false, stack.Program)
	if err == nil || !strings.Contains(err.Error(), "nixlab:nodeGroup: is not a nixlab setting; did you mean nixlab:nodeGroups?") {
		t.Fatalf("error = %v, want the misspelled key named", err)
	}
	if len(rec.regs) != 0 {
		t.Errorf("resources registered despite the misspelled key: %v", rec.names())
	}
}

func TestPlainTextTokenRefused(t *testing.T) {
	cfg := labConfig(t, nil)
	rec := newRecorder()
	err := pulumi.RunErr(stack.Program, pulumi.WithMocks("nixlab", "lab", rec), func(ri *pulumi.RunInfo) {
		ri.Config = cfg // no ConfigSecretKeys: the token is plain text
	})
	if err == nil || !strings.Contains(err.Error(), "--secret") {
		t.Fatalf("error = %v, want a demand to store the token as a secret", err)
	}
}

func TestMissingSSHCredentialsCreateNothing(t *testing.T) {
	cfg := labConfig(t, nil)
	t.Setenv("SSH_AUTH_SOCK", "")
	rec, err := runMocked(t, cfg, false, stack.Program)
	if err == nil || !strings.Contains(err.Error(), "privateKeyFile") {
		t.Fatalf("error = %v, want one naming nixlab:proxmox.ssh.privateKeyFile", err)
	}
	if n := len(rec.regs); n != 0 {
		t.Errorf("%d resources registered without SSH credentials: %v", n, rec.names())
	}
}

func TestISONameFollowsTheTarget(t *testing.T) {
	_, lab := deployLab(t, labConfig(t, nil), true)
	other := labConfig(t, map[string]string{"nixlab:proxmox": `{"endpoint":"https://192.168.1.5:8006/","node":"pve","ssh":{"host":"pve.lab.example"}}`})
	_, moved := deployLab(t, other, true)
	if lab.Template.Hash != moved.Template.Hash {
		t.Fatal("the SSH host changed the content hash")
	}
	if lab.Template.ISOFileName == moved.Template.ISOFileName {
		t.Errorf("uploads to two targets share the name %s: one's delete would remove the other's ISO", lab.Template.ISOFileName)
	}
}

func TestCommandsUseAbsolutePathsAndNoWorkingDir(t *testing.T) {
	cfg := labConfig(t, map[string]string{"nixlab:stateDir": "relative-state"})
	t.Chdir(t.TempDir())
	rec, _ := deployLab(t, cfg, true)
	for _, name := range []string{"template-system", "template-build", "template-upload"} {
		in := rec.get(t, name).Inputs
		if in.HasValue("dir") {
			t.Errorf("%s sets a working directory: a delete after the checkout is gone would fail", name)
		}
		for k, v := range in["environment"].ObjectValue() {
			if p := v.StringValue(); strings.Contains(string(k), "DIR") || strings.Contains(string(k), "LINK") || strings.Contains(string(k), "LOCK") {
				if !filepath.IsAbs(p) {
					t.Errorf("%s %s = %q is not absolute", name, k, p)
				}
			}
		}
	}
}

func TestPreviewNeedsNoSSHCredentials(t *testing.T) {
	cfg := labConfig(t, nil)
	t.Setenv("SSH_AUTH_SOCK", "")
	rec, err := runMocked(t, cfg, true, stack.Program)
	if err != nil {
		t.Fatalf("preview without SSH credentials: %v", err)
	}
	rec.get(t, "template-finalize")
}

func disk(in resource.PropertyMap) resource.PropertyMap {
	return in["disks"].ArrayValue()[0].ObjectValue()
}

func stringsOf(v resource.PropertyValue) []string {
	var out []string
	for _, e := range v.ArrayValue() {
		out = append(out, e.StringValue())
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func TestHashIgnoresCloneTimeSettings(t *testing.T) {
	base := labConfig(t, nil)
	_, lab := deployLab(t, base, true)
	variants := map[string]string{
		"more workers":       `{"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100},"workers":{"role":"worker","count":7,"vmIdStart":9200}}`,
		"bigger nodes":       `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100,"cores":8,"memoryMb":16384,"diskSizeGb":80},"workers":{"role":"worker","count":2,"vmIdStart":9200,"diskSizeGb":100}}`,
		"control plane only": `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100}}`,
	}
	for name, groups := range variants {
		// Three control planes need an API endpoint (a cluster setting,
		// which does not reach the image either).
		cfg := labConfig(t, map[string]string{"nixlab:nodeGroups": groups,
			"nixlab:kubernetes": `{"controlPlaneEndpoint":"k8s.lab.example"}`})
		cfg["nixlab:stateDir"] = base["nixlab:stateDir"]
		_, other := deployLab(t, cfg, true)
		if other.Template.Hash != lab.Template.Hash {
			t.Errorf("%s changed the template content hash", name)
		}
	}
	cfg := labConfig(t, map[string]string{"nixlab:nfs": `{"server":"192.168.1.4","export":"/volume1/other"}`})
	if _, other := deployLab(t, cfg, true); other.Template.Hash == lab.Template.Hash {
		t.Error("an NFS change did not change the content hash")
	}
}

// The node system build: the node's toplevel from the flake this run
// rendered, GC-rooted under the state directory by node-system hash,
// replaced exactly when that hash changes, its GC root removed on delete;
// nothing secret in it. Its stdout is NixOSTemplate.NodeSystem.
func TestSystemBuildInputs(t *testing.T) {
	cfg := labConfig(t, nil)
	state := cfg["nixlab:stateDir"]
	var lab *stack.Lab
	var system string
	rec, err := runMocked(t, cfg, false, withLab(func(ctx *pulumi.Context, _ *stack.Config, l *stack.Lab) error {
		lab = l
		out, err := await(ctx, l.Template.NodeSystem)
		if err != nil {
			return err
		}
		if out.Secret || !slices.ContainsFunc(out.Dependencies, func(r pulumi.Resource) bool { return r == pulumi.Resource(l.Template.SystemBuild) }) {
			t.Errorf("NodeSystem: secret %v, dependencies %v: want a plain output of the system build", out.Secret, out.Dependencies)
		}
		system, _ = out.Value.(string)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	tpl := lab.Template
	if len(tpl.NodeSystemHash) != 64 || tpl.NodeSystemHash == tpl.Hash || tpl.SystemBuild == nil {
		t.Fatalf("NodeSystemHash %q (image hash %q), SystemBuild %v", tpl.NodeSystemHash, tpl.Hash, tpl.SystemBuild)
	}
	if !regexp.MustCompile(`^/nix/store/[0-9a-z]{32}-nixos-system-[^/]+$`).MatchString(system) {
		t.Errorf("NodeSystem = %q, want the toplevel store path build-iso.sh prints", system)
	}
	reg := rec.get(t, "template-system")
	in := reg.Inputs
	if trig := stringsOf(in["triggers"]); !slices.Equal(trig, []string{tpl.NodeSystemHash}) {
		t.Errorf("system build triggers %v, want [node-system hash]", trig)
	}
	env := in["environment"].ObjectValue()
	want := map[string]string{
		"NIXLAB_BUILD_KIND": "system",
		"NIXLAB_FLAKE_DIR":  filepath.Join(state, "src", tpl.Hash[:16]),
		"NIXLAB_OUT_LINK":   filepath.Join(state, "system", tpl.NodeSystemHash[:16]),
		"NIXLAB_LOCK_COPY":  filepath.Join(state, "flake.lock"),
	}
	if len(env) != len(want) {
		t.Errorf("system build environment %v, want %v", env, want)
	}
	for k, v := range want {
		if got := env[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
			t.Errorf("system build %s = %v, want %q", k, got, v)
		}
	}
	if _, err := os.Stat(filepath.Join(want["NIXLAB_FLAKE_DIR"], "flake.nix")); err != nil {
		t.Errorf("the flake the system build reads was not rendered: %v", err)
	}
	if !strings.Contains(in["create"].StringValue(), "'build-iso' 'create'") || !strings.Contains(in["delete"].StringValue(), "'build-iso' 'delete'") {
		t.Errorf("system build does not run build-iso.sh create / delete (the GC root)")
	}
	for k, v := range in {
		if v.ContainsSecrets() {
			t.Errorf("system build input %s is secret: nothing secret belongs in a local build", k)
		}
	}
	if !slices.Contains(rec.get(t, "template-build").RegisterRPC.GetDependencies(), reg.URN) {
		t.Error("the ISO build does not wait for the system build (nix would build the node closure twice at once)")
	}
}

// A prebuilt ISO has no node system: no system build, no node-system hash.
func TestPrebuiltISOHasNoNodeSystem(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "installer.iso")
	if err := os.WriteFile(iso, []byte("ISO"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := labConfig(t, map[string]string{"nixlab:template": `{"vmId":9000,"isoPath":"` + iso + `"}`})
	var system any
	rec, err := runMocked(t, cfg, false, withLab(func(ctx *pulumi.Context, _ *stack.Config, l *stack.Lab) error {
		if l.Template.SystemBuild != nil || l.Template.NodeSystemHash != "" {
			t.Errorf("prebuilt ISO: SystemBuild %v, NodeSystemHash %q; want none", l.Template.SystemBuild, l.Template.NodeSystemHash)
		}
		out, err := await(ctx, l.Template.NodeSystem)
		system = out.Value
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if system != "" {
		t.Errorf("NodeSystem = %v, want \"\"", system)
	}
	if _, ok := rec.regs["template-system"]; ok {
		t.Error("a system build is registered for a prebuilt ISO")
	}
	if deps := rec.get(t, "template-build").RegisterRPC.GetDependencies(); len(deps) != 0 {
		t.Errorf("prebuilt ISO build depends on %v", deps)
	}
}
