package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

const mockPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockMockMockMockMockMockMockMockMockMockMock"

// labNodes are the reference lab's nodes: resource name, VM name, VM ID.
var labNodes = []struct {
	res, name string
	vmID      int
}{
	{"control-plane-1", "nixlab-control-plane-1", 9100},
	{"workers-1", "nixlab-workers-1", 9200},
	{"workers-2", "nixlab-workers-2", 9201},
}

func TestLabNodesNamesAndIDs(t *testing.T) {
	rec, lab := deployLab(t, labConfig(t, nil), false)
	if got := len(lab.NodeGroups["control-plane"].Nodes) + len(lab.NodeGroups["workers"].Nodes); got != 3 {
		t.Fatalf("%d nodes, want 1 control plane + 2 workers", got)
	}
	for _, n := range labNodes {
		reg := rec.get(t, n.res)
		if reg.TypeToken != "proxmoxve:VM/virtualMachine:VirtualMachine" {
			t.Errorf("%s: type %s", n.res, reg.TypeToken)
		}
		in := reg.Inputs
		if in["name"].StringValue() != n.name || int(in["vmId"].NumberValue()) != n.vmID {
			t.Errorf("%s: name %v vmId %v, want %s %d", n.res, in["name"], in["vmId"], n.name, n.vmID)
		}
		clone := in["clone"].ObjectValue()
		if int(clone["vmId"].NumberValue()) != 9000 || !clone["full"].BoolValue() || clone["retries"].NumberValue() < 1 {
			t.Errorf("%s: clone = %v, want a full clone of 9000 with retries", n.res, clone)
		}
		if disk(in)["size"].NumberValue() != 20 || disk(in)["datastoreId"].StringValue() != "local-lvm" {
			t.Errorf("%s: disk = %v", n.res, disk(in))
		}
		if !in["onBoot"].BoolValue() || !in["agent"].ObjectValue()["enabled"].BoolValue() || in["agent"].ObjectValue()["timeout"].StringValue() == "" {
			t.Errorf("%s: onBoot/agent = %v/%v", n.res, in["onBoot"], in["agent"])
		}
		role := "worker"
		if strings.HasPrefix(n.res, "control") {
			role = "control-plane"
		}
		// Cluster name (the default, nixlab) and role, once each and sorted:
		// as Proxmox stores them and the provider reads them back.
		want := []string{role, "nixlab"}
		slices.Sort(want)
		if tags := stringsOf(in["tags"]); !slices.Equal(tags, want) {
			t.Errorf("%s: tags %v, want %v", n.res, tags, want)
		}
		parent := rec.get(t, strings.TrimSuffix(strings.TrimSuffix(n.res, "-1"), "-2"))
		if parent.TypeToken != "nixlab:index:K8sNodeGroup" || reg.RegisterRPC.GetParent() != parent.URN {
			t.Errorf("%s: parent %s, want the K8sNodeGroup component", n.res, reg.RegisterRPC.GetParent())
		}
		if !reg.RegisterRPC.GetDeleteBeforeReplace() {
			t.Errorf("%s: fixed VM ID needs delete-before-replace", n.res)
		}
		if !slices.Contains(reg.RegisterRPC.GetIgnoreChanges(), "clone") {
			t.Errorf("%s: a new template would replace the running node (clone not ignored)", n.res)
		}
	}
}

func TestClonesWaitForTemplateAndEachOther(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	finalize := rec.get(t, "template-finalize").URN
	for i, n := range labNodes {
		deps := rec.get(t, n.res).RegisterRPC.GetDependencies()
		if !slices.Contains(deps, finalize) {
			t.Errorf("%s does not wait for the template conversion; deps %v", n.res, deps)
		}
		// The previous node's readiness check, which waits for its VM: the
		// clones run one after another, and an update that reboots nodes
		// reboots the next one only once the previous one is back.
		if i > 0 && !rec.dependsOn(t, n.res, labNodes[i-1].res+"-ready") {
			t.Errorf("%s does not wait for the previous node's readiness check %s-ready (deps %v)", n.res, labNodes[i-1].res, deps)
		}
	}
}

// Scaling several groups in one update: the clones form one chain across
// all groups (control planes first, then by name), so every new clone waits,
// through the chain, for every clone before it.
func TestNewClonesInSeveralGroupsNeverRunTogether(t *testing.T) {
	cfg := labConfig(t, map[string]string{"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":3,"vmIdStart":9100},"workers":{"role":"worker","count":3,"vmIdStart":9200},"gpu":{"role":"worker","count":2,"vmIdStart":9300}}`,
		// Three control planes need an API endpoint; the clone chain does
		// not depend on the cluster.
		"nixlab:kubernetes": `{"enabled":false}`})
	rec, _ := deployLab(t, cfg, true)
	order := []string{"control-plane-1", "control-plane-2", "control-plane-3", "gpu-1", "gpu-2", "workers-1", "workers-2", "workers-3"}
	for i := 1; i < len(order); i++ {
		deps := rec.get(t, order[i]).RegisterRPC.GetDependencies()
		if !slices.Contains(deps, rec.get(t, order[i-1]+"-ready").URN) {
			t.Errorf("%s does not wait for %s-ready: the clone chain is broken (deps %v)", order[i], order[i-1], deps)
		}
		if !slices.Contains(rec.get(t, order[i-1]+"-ready").RegisterRPC.GetDependencies(), rec.get(t, order[i-1]).URN) {
			t.Errorf("%s-ready does not wait for its VM", order[i-1])
		}
	}
}

func TestTemplateIDKnownInPreview(t *testing.T) {
	// A preview that replaces the template must not make the clones' source
	// unknown (which would show every node as replaced).
	rec, _ := deployLab(t, labConfig(t, nil), true)
	for _, n := range labNodes {
		clone := rec.get(t, n.res).Inputs["clone"].ObjectValue()
		if v := clone["vmId"]; !v.IsNumber() || v.NumberValue() != 9000 {
			t.Errorf("%s clone.vmId at preview = %v, want the known 9000", n.res, v)
		}
	}
}

func TestCloudInitIdentity(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	key := rec.get(t, "ssh-key")
	if key.Inputs["algorithm"].StringValue() != "ED25519" {
		t.Fatalf("ssh key algorithm %v", key.Inputs["algorithm"])
	}
	for _, n := range labNodes {
		reg := rec.get(t, n.res)
		ci := reg.Inputs["initialization"].ObjectValue()
		user := ci["userAccount"].ObjectValue()
		// Exactly the key, trimmed: the provider reads keys back trimmed and
		// would replace the VM over a trailing newline.
		if user["username"].StringValue() != "nixos" || !slices.Equal(stringsOf(user["keys"]), []string{mockPublicKey}) {
			t.Errorf("%s: cloud-init user %v, want exactly the generated key, trimmed", n.res, user)
		}
		if ig := reg.RegisterRPC.GetIgnoreChanges(); !slices.Contains(ig, "initialization.userAccount") {
			t.Errorf("%s: a key change would replace the running node (ignoreChanges %v)", n.res, ig)
		}
		// No DNS configured: no dns block (the provider would never read an
		// empty one back); no deprecated `upgrade`.
		for _, k := range []resource.PropertyKey{"dns", "upgrade"} {
			if _, ok := ci[k]; ok {
				t.Errorf("%s: initialization sends %s = %v", n.res, k, ci[k])
			}
		}
		if ip := ci["ipConfigs"].ArrayValue()[0].ObjectValue()["ipv4"].ObjectValue()["address"].StringValue(); ip != "dhcp" {
			t.Errorf("%s: ipv4 %q, want dhcp", n.res, ip)
		}
		if deps := reg.RegisterRPC.GetPropertyDependencies()["initialization"]; deps == nil || !slices.Contains(deps.GetUrns(), key.URN) {
			t.Errorf("%s: cloud-init does not take the key from the generated key pair", n.res)
		}
	}
}

func TestReadinessChecks(t *testing.T) {
	rec, _ := deployLab(t, labConfig(t, nil), false)
	for _, n := range labNodes {
		ready := rec.get(t, n.res+"-ready")
		vmReg := rec.get(t, n.res)
		if ready.TypeToken != "command:remote:Command" || !slices.Contains(ready.RegisterRPC.GetDependencies(), vmReg.URN) {
			t.Errorf("%s-ready: type %s, deps %v", n.res, ready.TypeToken, ready.RegisterRPC.GetDependencies())
		}
		create := ready.Inputs["create"].StringValue()
		if !strings.Contains(create, fmt.Sprintf("'node-ready' '%s' '/mnt/nfs' 'yes'", n.name)) {
			t.Errorf("%s-ready runs ...%s", n.res, tail(create, 60))
		}
		// Secret here is the SDK's doing too (remote.NewCommand wraps the
		// connection); nixlab's own ToSecret is checked before the SDK in
		// components.TestReadinessConnectionKeyIsSecret.
		conn := ready.Inputs["connection"]
		if !conn.IsSecret() && !conn.ObjectValue()["privateKey"].IsSecret() {
			t.Errorf("%s-ready: the private key is not a secret", n.res)
		}
		c := revealed(conn).ObjectValue()
		if ig := ready.RegisterRPC.GetIgnoreChanges(); !slices.Contains(ig, "connection") {
			t.Errorf("%s-ready re-runs on an address change before the node reboots (ignoreChanges %v)", n.res, ig)
		}
		if c["user"].StringValue() != "nixos" || c["dialErrorLimit"].NumberValue() < 10 {
			t.Errorf("%s-ready connection = %v", n.res, c)
		}
		// DHCP: the lease the lookup on the Proxmox host waited for.
		lookup := rec.get(t, n.res+"-address")
		if !slices.Contains(lookup.RegisterRPC.GetDependencies(), vmReg.URN) {
			t.Errorf("%s-address does not wait for its VM", n.res)
		}
		if !strings.Contains(lookup.Inputs["create"].StringValue(), fmt.Sprintf("'node-address' '%d' '300' '5'", n.vmID)) {
			t.Errorf("%s-address runs ...%s", n.res, tail(lookup.Inputs["create"].StringValue(), 60))
		}
		if h := revealed(lookup.Inputs["connection"]).ObjectValue()["host"].StringValue(); h != "192.168.1.5" {
			t.Errorf("%s-address runs on %q, want the Proxmox host", n.res, h)
		}
		if deps := ready.RegisterRPC.GetPropertyDependencies()["connection"]; deps == nil || !slices.Contains(deps.GetUrns(), lookup.URN) {
			t.Errorf("%s-ready does not connect to the looked-up address", n.res)
		}
		want := mockLeaseIP(n.vmID)
		if got := c["host"].StringValue(); got != want {
			t.Errorf("%s-ready connects to %q, want %q", n.res, got, want)
		}
	}
	for name, reg := range rec.regs {
		for _, s := range plainStrings(resource.NewObjectProperty(reg.Inputs)) {
			// The key's own first line: a script may well match key
			// headers with a pattern (node-roll.sh checks what it got).
			if strings.Contains(s, "-----BEGIN OPENSSH PRIVATE KEY-----") {
				t.Errorf("%s carries a private key in a plain input", name)
			}
		}
	}
}

func TestStaticAddresses(t *testing.T) {
	cfg := labConfig(t, map[string]string{
		"nixlab:network":    `{"mode":"static","cidr":"192.168.1.0/24","gateway":"192.168.1.1","dns":["192.168.1.1"],"domain":"lab.example"}`,
		"nixlab:nodeGroups": `{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100,"hostOffset":21},"workers":{"role":"worker","count":2,"vmIdStart":9200,"hostOffset":31}}`,
	})
	rec, lab := deployLab(t, cfg, true) // preview: static addresses are known anyway
	want := map[string]string{"control-plane-1": "192.168.1.21", "workers-1": "192.168.1.31", "workers-2": "192.168.1.32"}
	for res, ip := range want {
		ci := rec.get(t, res).Inputs["initialization"].ObjectValue()
		ipv4 := ci["ipConfigs"].ArrayValue()[0].ObjectValue()["ipv4"].ObjectValue()
		if ipv4["address"].StringValue() != ip+"/24" || ipv4["gateway"].StringValue() != "192.168.1.1" {
			t.Errorf("%s: ipv4 = %v", res, ipv4)
		}
		dns := ci["dns"].ObjectValue()
		if dns["domain"].StringValue() != "lab.example" || !slices.Contains(stringsOf(dns["servers"]), "192.168.1.1") {
			t.Errorf("%s: dns = %v", res, dns)
		}
		if got := revealed(rec.get(t, res+"-ready").Inputs["connection"]).ObjectValue()["host"]; !got.IsString() || got.StringValue() != ip {
			t.Errorf("%s-ready host = %v at preview, want %s", res, got, ip)
		}
	}
	if lab.NodeGroups["workers"].Nodes[1].Name != "nixlab-workers-2" {
		t.Errorf("node names: %+v", lab.NodeGroups["workers"].Nodes[1])
	}
	for name := range rec.regs {
		if strings.HasSuffix(name, "-address") {
			t.Errorf("%s: static nodes need no address lookup", name)
		}
	}
}

// snapshot maps resource name to inputs for a scaling comparison, each
// ignoreChanges path reset to the value of the same resource in base (when
// given): what the engine compares. kube-check's command line names the
// node count, which a check that already passed need not run again for.
func snapshot(rec *recorder, base ...*recorder) map[string]resource.PropertyMap {
	out := map[string]resource.PropertyMap{}
	for name, reg := range rec.regs {
		out[name] = reg.Inputs
		if len(base) == 0 || reg.RegisterRPC == nil {
			continue
		}
		if old, ok := base[0].regs[name]; ok {
			if in, err := providermodel.ApplyIgnoreChanges(old.Inputs, reg.Inputs, reg.RegisterRPC.GetIgnoreChanges()); err == nil {
				out[name] = in
			}
		}
	}
	return out
}

func workersConfig(t *testing.T, state string, workers int) map[string]string {
	cfg := labConfig(t, map[string]string{"nixlab:nodeGroups": fmt.Sprintf(
		`{"control-plane":{"role":"control-plane","count":1,"vmIdStart":9100},"workers":{"role":"worker","count":%d,"vmIdStart":9200}}`, workers)})
	cfg["nixlab:stateDir"] = state
	return cfg
}

func TestScalingUpAddsOnlyNewNodes(t *testing.T) {
	state := t.TempDir()
	before, _ := deployLab(t, workersConfig(t, state, 2), false)
	after, _ := deployLab(t, workersConfig(t, state, 4), false)
	old, grown := snapshot(before), snapshot(after, before)
	for name, in := range old {
		now, ok := grown[name]
		if !ok {
			t.Errorf("%s disappeared when scaling up", name)
			continue
		}
		if !now.DeepEquals(in) {
			t.Errorf("%s inputs changed when scaling up:\n%v", name, in.Diff(now))
		}
	}
	var added []string
	for name := range grown {
		if _, ok := old[name]; !ok {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	if want := append(nodeResources("workers-3"), nodeResources("workers-4")...); !slices.Equal(added, want) {
		t.Errorf("scaling 2 -> 4 workers added %v, want %v", added, want)
	}
	if id := int(grown["workers-4"]["vmId"].NumberValue()); id != 9203 {
		t.Errorf("workers-4 VM ID %d, want 9203", id)
	}
}

func TestScalingDownRemovesHighestNumbers(t *testing.T) {
	state := t.TempDir()
	before, _ := deployLab(t, workersConfig(t, state, 3), false)
	after, _ := deployLab(t, workersConfig(t, state, 1), false)
	old, shrunk := snapshot(before), snapshot(after, before)
	var removed []string
	for name, in := range old {
		now, ok := shrunk[name]
		if !ok {
			removed = append(removed, name)
		} else if !now.DeepEquals(in) {
			t.Errorf("%s inputs changed when scaling down", name)
		}
	}
	slices.Sort(removed)
	if want := append(nodeResources("workers-2"), nodeResources("workers-3")...); !slices.Equal(removed, want) {
		t.Errorf("scaling 3 -> 1 workers removed %v, want %v", removed, want)
	}
}

func TestNodeOutputsAndInventory(t *testing.T) {
	cfg := labConfig(t, nil)
	_, err := runMocked(t, cfg, false, withLab(func(ctx *pulumi.Context, c *stack.Config, lab *stack.Lab) error {
		n := lab.NodeGroups["workers"].Nodes[0]
		ip, err := await(ctx, n.IPv4)
		if err != nil || ip.Value != mockLeaseIP(9200) {
			t.Errorf("workers-1 IPv4 = %v (%v)", ip.Value, err)
		}
		if !slices.ContainsFunc(ip.Dependencies, func(r pulumi.Resource) bool { return r == pulumi.Resource(n.Ready) }) {
			t.Error("node IPv4 resolves before its readiness check")
		}
		inv, err := await(ctx, lab.Inventory)
		if err != nil {
			return err
		}
		text := inv.Value.(string)
		for _, want := range []string{"[control_plane]", "[workers]", "nixlab-workers-2 ansible_host=" + mockLeaseIP(9201), "ansible_user=nixos"} {
			if !strings.Contains(text, want) {
				t.Errorf("inventory lacks %q:\n%s", want, text)
			}
		}
		outs := stack.Outputs(ctx, c, lab)
		for _, name := range []string{"templateVmId", "nodes", "inventory", "inventoryYaml", "sshPublicKey", "sshPrivateKey", "ssh"} {
			if outs[name] == nil {
				t.Errorf("stack output %s missing", name)
			}
		}
		key, err := await(ctx, outs["sshPrivateKey"].(pulumi.Output))
		if err != nil || !key.Secret {
			t.Errorf("sshPrivateKey output is not secret (%v)", err)
		}
		nodes, err := await(ctx, outs["nodes"].(pulumi.Output))
		if err != nil || len(nodes.Value.([]any)) != 3 {
			t.Errorf("nodes output = %v (%v)", nodes.Value, err)
		}
		ssh, err := await(ctx, outs["ssh"].(pulumi.StringMap).ToStringMapOutput())
		if err != nil || ssh.Value.(map[string]string)["nixlab-control-plane-1"] != "ssh -i "+stack.SSHKeyFile(c, "lab")+
			" -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="+stack.KnownHostsFile(c, "lab")+" nixos@"+mockLeaseIP(9100) {
			t.Errorf("ssh output = %v (%v)", ssh.Value, err)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
}
