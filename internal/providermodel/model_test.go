package providermodel

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func vmInputs() resource.PropertyMap {
	return resource.NewPropertyMapFromMap(map[string]any{
		"vmId":           9100,
		"started":        true,
		"tags":           []string{"nixlab", "worker"},
		"agent":          map[string]any{"enabled": true, "timeout": "5m", "trim": true},
		"disks":          []any{map[string]any{"interface": "scsi0", "size": 20, "datastoreId": "local-lvm", "fileFormat": "raw"}},
		"networkDevices": []any{map[string]any{"bridge": "vmbr0", "model": "virtio"}},
		"initialization": map[string]any{
			"datastoreId": "local-lvm",
			"ipConfigs":   []any{map[string]any{"ipv4": map[string]any{"address": "dhcp"}}},
		},
	})
}

func TestVMDiffRules(t *testing.T) {
	// A clone's ignores (components.CloneIgnoreChanges): the filled cdrom
	// default and the disk speed defaults never read back.
	speed := []string{"cdrom", "disks[0].speed"}
	for _, c := range []struct {
		name   string
		edit   func(resource.PropertyMap)
		ignore []string
		want   []string
	}{
		{"round trip with the speed ignore", nil, speed, nil},
		{"cdrom and speed defaults differ from the empty read", nil, nil, []string{"cdrom", "disks[0].speed"}},
		// The bridge matches ignored paths literally: a wildcard reaches the
		// engine but not the provider's diff.
		{"wildcard speed ignore does not reach the bridge", nil, []string{"cdrom", "disks[*].speed"}, []string{"disks[0].speed"}},
		{"tag order is suppressed", func(m resource.PropertyMap) {
			m["tags"] = resource.NewPropertyValue([]string{"worker", "nixlab"})
		}, speed, nil},
		{"duplicate tag is a diff", func(m resource.PropertyMap) {
			m["tags"] = resource.NewPropertyValue([]string{"nixlab", "nixlab", "worker"})
		}, speed, []string{"tags"}},
		{"unset equals zero", func(m resource.PropertyMap) {
			m["onBoot"] = resource.NewBoolProperty(false)
			m["description"] = resource.NewStringProperty("")
		}, speed, nil},
		{"empty dns block never converges", func(m resource.PropertyMap) {
			m["initialization"].ObjectValue()["dns"] = resource.NewObjectProperty(resource.PropertyMap{})
		}, speed, []string{"initialization.dns"}},
		{"a nic change marks the agent addresses computed", func(m resource.PropertyMap) {
			m["networkDevices"].ArrayValue()[0].ObjectValue()["bridge"] = resource.NewStringProperty("vmbr1")
		}, speed, []string{"ipv4Addresses", "ipv6Addresses", "networkDevices[0].bridge", "networkInterfaceNames"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sent := vmInputs()
			state := ReadBack(TypeVM, sent, Env{VM: VMStatus{IPv4: "10.0.0.5"}})
			news := vmInputs()
			if c.edit != nil {
				c.edit(news)
			}
			d, err := Diff(TypeVM, Check(TypeVM, sent), state, news, c.ignore)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Changed, c.want) {
				t.Errorf("changed %v, want %v", d.Changed, c.want)
			}
		})
	}
}

func TestStoppedVMReadBack(t *testing.T) {
	state := ReadBack(TypeVM, vmInputs(), Env{VM: VMStatus{Stopped: true, Template: true, IPv4: "10.0.0.5"}})
	if state["started"].BoolValue() || !state["template"].BoolValue() || len(state["ipv4Addresses"].ArrayValue()) != 0 {
		t.Errorf("stopped template reads started=%v template=%v addresses=%v", state["started"], state["template"], state["ipv4Addresses"])
	}
	d, err := Diff(TypeVM, Check(TypeVM, vmInputs()), state, vmInputs(), []string{"started", "template", "cdrom", "disks[0].speed"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ipv4Addresses", "ipv6Addresses", "networkInterfaceNames"}; !slices.Equal(d.Changed, want) {
		t.Errorf("ignoring started: changed %v, want the computed agent fields %v", d.Changed, want)
	}
}

// The bridge's Check fills the top-level blocks the program leaves out with
// their DefaultFunc values; `cdrom` reads back from the drive at its
// interface: none for a disabled (never sent) or detached CD.
func TestBlockDefaultsAndCdromReadBack(t *testing.T) {
	checked := Check(TypeVM, vmInputs())
	for k, want := range map[resource.PropertyKey]string{"cdrom": "ide3", "vga": "std", "watchdog": "i6300esb", "operatingSystem": "other"} {
		obj := checked[k]
		if !obj.IsObject() {
			t.Fatalf("Check left %s out: %v", k, obj)
		}
		found := false
		for _, v := range obj.ObjectValue() {
			if v.IsString() && v.StringValue() == want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s default = %v, want one holding %q", k, obj, want)
		}
	}
	if sd := checked["serialDevices"]; !sd.IsArray() || len(sd.ArrayValue()) != 1 {
		t.Errorf("serialDevices default = %v", sd)
	}
	// A block the program sets is kept as it is.
	if got := checked["agent"].ObjectValue()["timeout"].StringValue(); got != "5m" {
		t.Errorf("agent.timeout = %q: a set block was overwritten by its default", got)
	}
	withCD := func() resource.PropertyMap {
		in := vmInputs()
		in["cdrom"] = resource.NewPropertyValue(map[string]any{"enabled": true, "fileId": "local:iso/x.iso", "interface": "ide3"})
		return in
	}
	for _, c := range []struct {
		name   string
		in     resource.PropertyMap
		status VMStatus
		want   bool
	}{
		{"default (disabled) cdrom is never sent", vmInputs(), VMStatus{}, false},
		{"enabled cdrom", withCD(), VMStatus{}, true},
		{"enabled cdrom detached by finalize", withCD(), VMStatus{CdromDetached: true, Template: true, Stopped: true}, false},
	} {
		if _, got := ReadBack(TypeVM, c.in, Env{VM: c.status})["cdrom"]; got != c.want {
			t.Errorf("%s: cdrom read back = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestApplyIgnoreChanges(t *testing.T) {
	old := resource.NewPropertyMapFromMap(map[string]any{"a": map[string]any{"b": 1, "c": 2}, "l": []any{map[string]any{"x": 1}}})
	news := resource.NewPropertyMapFromMap(map[string]any{"a": map[string]any{"b": 5, "c": 6}, "l": []any{map[string]any{"x": 9}}})
	got, err := ApplyIgnoreChanges(old, news, []string{"a.b", "l[*].x"})
	if err != nil {
		t.Fatal(err)
	}
	a := got["a"].ObjectValue()
	if a["b"].NumberValue() != 1 || a["c"].NumberValue() != 6 || got["l"].ArrayValue()[0].ObjectValue()["x"].NumberValue() != 1 {
		t.Errorf("ignored = %v", got)
	}
	if news["a"].ObjectValue()["b"].NumberValue() != 5 {
		t.Error("ApplyIgnoreChanges changed its argument")
	}
	if _, err := ApplyIgnoreChanges(old, resource.PropertyMap{}, []string{"a.b"}); err == nil {
		t.Error("a path whose parent is missing in the new inputs must be an error, as in the engine")
	}
}

func TestCommandModel(t *testing.T) {
	in := resource.NewPropertyMapFromMap(map[string]any{
		"connection": map[string]any{"host": "10.0.0.5"},
		"create":     "check",
		"triggers":   []any{"vm-1"},
	})
	state := ReadBack(TypeRemoteCommand, in, Env{Stdout: "ok"})
	conn := state["connection"]
	if !conn.IsSecret() || conn.SecretValue().Element.ObjectValue()["user"].StringValue() != "root" {
		t.Errorf("connection state = %v, want secret with the default user", conn)
	}
	if state["stdout"].StringValue() != "ok" {
		t.Errorf("stdout = %v", state["stdout"])
	}
	if d, _ := Diff(TypeRemoteCommand, Check(TypeRemoteCommand, in), state, in, nil); !d.Empty() {
		t.Errorf("unchanged command diffs: %v", d.Changed)
	}
	next := DeepCopy(in)
	next["triggers"] = resource.NewPropertyValue([]any{"vm-2"})
	next["create"] = resource.NewStringProperty("check v2")
	d, _ := Diff(TypeRemoteCommand, Check(TypeRemoteCommand, in), state, next, []string{"create"})
	if !d.Replace || !slices.Equal(d.Changed, []string{"triggers"}) {
		t.Errorf("new triggers, ignored create: %+v", d)
	}
	if local := ReadBack(TypeLocalCommand, in, Env{Preview: true}); local.HasValue("stdout") || local["connection"].IsSecret() {
		t.Errorf("local command in preview: %v", local)
	}
}

func TestPrivateKeyModel(t *testing.T) {
	in := resource.NewPropertyMapFromMap(map[string]any{"algorithm": "ED25519"})
	state := ReadBack(TypePrivateKey, in, Env{PublicKeyOpenssh: "ssh-ed25519 AAAA\n", PrivateKeyOpenssh: "k"})
	for _, k := range []resource.PropertyKey{"privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"} {
		if !state[k].IsSecret() {
			t.Errorf("%s is not secret", k)
		}
	}
	if state["publicKeyOpenssh"].IsSecret() || state["rsaBits"].NumberValue() != 2048 {
		t.Errorf("state = %v", state)
	}
	next := resource.NewPropertyMapFromMap(map[string]any{"algorithm": "RSA"})
	if d, _ := Diff(TypePrivateKey, Check(TypePrivateKey, in), state, next, nil); !d.Replace {
		t.Errorf("a new algorithm must replace the key: %+v", d)
	}
}

// Every rule says where it comes from.
func TestRulesCiteTheirSource(t *testing.T) {
	for _, typ := range []string{TypeVM, TypeRemoteCommand, TypeLocalCommand, TypePrivateKey} {
		for _, r := range Rules(typ) {
			if r.Name == "" || r.Source == "" || (r.Check == nil && r.Read == nil) {
				t.Errorf("%s rule %+v lacks a name, source or behaviour", typ, r.Name)
			}
		}
	}
}
