package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/internal/providermodel"
	"github.com/nixlab/nixlab/stack"
)

// TestKubernetesGraphOrder: the order, as dependency closure:
// readiness → init → control-plane joins → worker joins → kubeconfig → CNI →
// storage → cluster check; each node's steps wait for its own readiness
// check and for the previous node's kube-node step.
func TestKubernetesGraphOrder(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   func(t *testing.T) map[string]string
		nodes []string // node resources in join order, first control plane first
	}{
		{"lab: one control plane, two workers, dhcp", func(t *testing.T) map[string]string { return labConfig(t, nil) },
			[]string{"control-plane-1", "workers-1", "workers-2"}},
		{"three control planes behind a VIP, static", func(t *testing.T) map[string]string { return haConfig(t, "") },
			[]string{"control-plane-1", "control-plane-2", "control-plane-3", "workers-1", "workers-2"}},
		{"control planes of two groups in group order, then workers", func(t *testing.T) map[string]string {
			cfg := haConfig(t, "")
			cfg["nixlab:nodeGroups"] = `{"zz":{"role":"worker","count":1,"vmIdStart":9300,"hostOffset":41},` +
				`"cpb":{"role":"control-plane","count":2,"vmIdStart":9200,"hostOffset":31},` +
				`"cpa":{"role":"control-plane","count":1,"vmIdStart":9100,"hostOffset":21},` +
				`"aa":{"role":"worker","count":1,"vmIdStart":9400,"hostOffset":51}}`
			return cfg
		}, []string{"cpa-1", "cpb-1", "cpb-2", "aa-1", "zz-1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, err := runMocked(t, c.cfg(t), false, stack.Program)
			if err != nil {
				t.Fatal(err)
			}
			order := []string{c.nodes[0] + "-ready", c.nodes[0] + "-kube-init"}
			for _, n := range c.nodes[1:] {
				order = append(order, nodeSteps(n)...)
			}
			order = append(order, kubeconfigStep, "kube-flannel-namespace", "kube-flannel",
				"kube-csi-driver-nfs", "kube-storage-class", kubeCheckStep)
			for i := 1; i < len(order); i++ {
				if !rec.dependsOn(t, order[i], order[i-1]) {
					t.Errorf("%s does not wait for %s", order[i], order[i-1])
				}
			}
			for _, n := range c.nodes[1:] {
				if !rec.dependsOn(t, n+"-kube-join", n+"-ready") {
					t.Errorf("%s-kube-join does not wait for its node's readiness check", n)
				}
			}
			// Workers join after every control plane.
			if w := c.nodes[len(c.nodes)-1]; !rec.dependsOn(t, w+"-kube-prepare", c.nodes[0]+"-kube-init") {
				t.Errorf("%s joins without the cluster", w)
			}
		})
	}
}

// TestKubernetesStepsAreDeletedWithInit: every step and add-on of the
// cluster but init names init as DeletedWith: `destroy` deletes the VMs
// without draining node by node.
func TestKubernetesStepsAreDeletedWithInit(t *testing.T) {
	rec, err := runMocked(t, haConfig(t, ""), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	init := rec.get(t, kubeInitLab).URN
	checked := 0
	for _, name := range rec.kubeResources() {
		reg := rec.get(t, name)
		dw := reg.RegisterRPC.GetDeletedWith()
		switch {
		case name == kubeInitLab:
			if dw != "" {
				t.Errorf("init is deleted with %s", dw)
			}
		case reg.TypeToken == providermodel.TypeRemoteCommand || strings.HasPrefix(reg.TypeToken, "kubernetes:"):
			checked++
			if dw != init {
				t.Errorf("%s: DeletedWith %q, want init %s", name, dw, init)
			}
		}
	}
	// 4 other nodes × 3 steps, kubeconfig, check, namespace, 2 releases, class.
	if checked != 4*3+6 {
		t.Errorf("%d steps and add-ons checked, want %d", checked, 4*3+6)
	}
}

// TestKubernetesRemovalScripts: each per-node step undoes itself on delete
// with the script of the contract, and runs where it must.
func TestKubernetesRemovalScripts(t *testing.T) {
	rec, err := runMocked(t, haConfig(t, ""), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	const cp1 = "192.168.1.21" // hostOffset 21 of the control planes
	for _, c := range []struct {
		step, create, delete, host string
	}{
		{"control-plane-2-kube-prepare", "'kube-prepare' 'nixlab-control-plane-2' 'control-plane'", "'kube-forget' 'nixlab-control-plane-2' 'control-plane'", cp1},
		{"control-plane-2-kube-join", "'kube-join' 'nixlab-control-plane-2' 'control-plane'", "'kube-leave' 'nixlab-control-plane-2' 'control-plane'", "192.168.1.22"},
		{"control-plane-2-kube-node", "'kube-node' 'nixlab-control-plane-2'", "'kube-drain' 'nixlab-control-plane-2' 'control-plane' '600'", cp1},
		{"workers-2-kube-join", "'kube-join' 'nixlab-workers-2' 'worker' '-' '-'", "'kube-leave' 'nixlab-workers-2' 'worker'", "192.168.1.32"},
		{"workers-2-kube-node", "'kube-node' 'nixlab-workers-2'", "'kube-drain' 'nixlab-workers-2' 'worker' '600'", cp1},
	} {
		in := rec.get(t, c.step).Inputs
		if got := in["create"].StringValue(); !strings.Contains(got, c.create) {
			t.Errorf("%s: create does not run %s", c.step, c.create)
		}
		if got := in["delete"].StringValue(); !strings.Contains(got, c.delete) {
			t.Errorf("%s: delete does not run %s", c.step, c.delete)
		}
		conn := revealed(in["connection"]).ObjectValue()
		if h := conn["host"].StringValue(); h != c.host {
			t.Errorf("%s runs on %s, want %s", c.step, h, c.host)
		}
		// Replaced delete-first: a create-first replacement would run the
		// old step's delete (reset, forget, drain) after the new step, on
		// the same node.
		if !rec.get(t, c.step).RegisterRPC.GetDeleteBeforeReplace() {
			t.Errorf("%s has a delete script but is not deleted before it is replaced", c.step)
		}
		// A delete runs after the program exited: no placeholder agent.
		if sock, ok := conn["agentSocketPath"]; ok && !sock.IsNull() {
			t.Errorf("%s has a delete but names the agent socket %v, which is gone when it runs", c.step, sock)
		}
	}
	// A control plane joins with the kube-vip manifest, a worker without.
	if join := rec.get(t, "control-plane-3-kube-join").Inputs["create"].StringValue(); strings.Contains(join, "'control-plane' '-' '-'") {
		t.Error("a control plane joins without the kube-vip manifest")
	}
}

// TestKubernetesScaleUpAddsOnlyTheNewNodesSteps: with state, a third worker
// adds its VM, readiness check and its three kube steps; nothing else
// changes, no kube step runs again.
func TestKubernetesScaleUpAddsOnlyTheNewNodesSteps(t *testing.T) {
	state := t.TempDir()
	_, second := secondRun(t, workersConfig(t, state, 2), workersConfig(t, state, 3), stack.Program)
	if got := changedResources(second); len(got) != 0 {
		t.Errorf("adding a worker changes existing resources: %v", got)
	}
	var added []string
	for name, reg := range second.regs {
		if _, ok := second.diffs[name]; !ok && reg.Custom {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	want := nodeResources("workers-3")
	if !slices.Equal(added, want) {
		t.Errorf("adding a worker creates %v, want %v", added, want)
	}
	for _, s := range []string{kubeInitLab, kubeconfigStep, kubeCheckStep, "workers-2-kube-node"} {
		if _, ok := second.diffs[s]; !ok {
			t.Errorf("%s was not compared with its state", s)
		}
	}
}

// TestKubernetesScaleDownRemovesOnlyTheNodesSteps: with state, a removed
// worker loses its VM, checks and kube steps, nothing else changes; its
// drain step depends on its VM through the join and readiness steps, so the
// engine (which deletes dependents first) drains before the VM goes.
func TestKubernetesScaleDownRemovesOnlyTheNodesSteps(t *testing.T) {
	state := t.TempDir()
	first, second := secondRun(t, workersConfig(t, state, 3), workersConfig(t, state, 2), stack.Program)
	if got := changedResources(second); len(got) != 0 {
		t.Errorf("removing a worker changes remaining resources: %v", got)
	}
	var removed []string
	for name := range first.regs {
		if _, ok := second.regs[name]; !ok {
			removed = append(removed, name)
		}
	}
	slices.Sort(removed)
	want := nodeResources("workers-3")
	if !slices.Equal(removed, want) {
		t.Errorf("removing a worker deletes %v, want %v", removed, want)
	}
	chain := []string{"workers-3-kube-node", "workers-3-kube-join", "workers-3-ready", "workers-3"}
	for i := 1; i < len(chain); i++ {
		if !first.dependsOn(t, chain[i-1], chain[i]) {
			t.Errorf("%s does not depend on %s: the engine could delete %s first", chain[i-1], chain[i], chain[i])
		}
	}
	if !first.dependsOn(t, "workers-3-kube-join", "workers-3-kube-prepare") {
		t.Error("the leave step does not depend on the forget step: forget could run before the node left")
	}
}

// TestKubernetesProviderIdentity: the provider carries the cluster name and
// CA hash as its cluster identifier; a new kubeconfig (another API address, new
// certificates) updates the provider and replaces no add-on, while without
// the identifier the provider model (DiffConfig) would replace it, and
// with it every add-on.
func TestKubernetesProviderIdentity(t *testing.T) {
	cfg := labConfig(t, nil)
	first, err := runMocked(t, cfg, false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	p := first.get(t, kubeProvider)
	// The cluster name and the CA's discovery hash kube-init printed.
	initHash := strings.TrimSpace(mustState(t, first, "control-plane-1-kube-init").State["stdout"].StringValue())
	if id := p.Inputs["clusterIdentifier"]; !id.IsString() || id.StringValue() != "nixlab-"+initHash || !strings.HasPrefix(initHash, "sha256:") {
		t.Fatalf("clusterIdentifier = %v, want nixlab-<CA hash %q>", id, initHash)
	}
	// The kubeconfig step ran again and read a kubeconfig with another
	// server (its state now holds it).
	prior := refreshed(first.stateSnapshot(), afterFinalize)
	kc := prior[kubeconfigStep]
	kc.State = kc.State.Copy()
	newConfig := mockKubeconfig("", "10.9.9.9")
	kc.State["stdout"] = resource.MakeSecret(resource.NewStringProperty(newConfig))
	prior[kubeconfigStep] = kc
	second, err := runAgain(t, cfg, false, stack.Program, prior, afterFinalize)
	if err != nil {
		t.Fatal(err)
	}
	d := second.diffs[kubeProvider]
	if d.Empty() || d.Replace {
		t.Errorf("provider diff %+v, want an update of its kubeconfig", d)
	}
	for name, d := range changedResources(second) {
		if name != kubeProvider {
			t.Errorf("a new kubeconfig changes %s: %+v", name, d)
		}
	}
	// Control: the same change without a cluster identifier replaces the
	// provider (its active cluster changed).
	old := mustState(t, first, kubeProvider)
	news := second.get(t, kubeProvider).Inputs.Copy()
	delete(news, "clusterIdentifier")
	oldInputs := old.Inputs.Copy()
	delete(oldInputs, "clusterIdentifier")
	ctl, err := providermodel.Diff(providermodel.TypeKubernetesProvider, oldInputs, oldInputs, news, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ctl.Replace {
		t.Errorf("without clusterIdentifier the model does not replace the provider: %+v; the test proves nothing", ctl)
	}
}

// TestKubernetesCNIVariants: flannel, calico and none install what they
// should, pinned, with the pod CIDR.
func TestKubernetesCNIVariants(t *testing.T) {
	for _, c := range []struct {
		cni      string
		want     []string
		notWant  []string
		checkCNI string
	}{
		{"flannel", []string{"kube-flannel-namespace", "kube-flannel"}, []string{"kube-calico"}, "'flannel' 'nfs'"},
		{"calico", []string{"kube-calico"}, []string{"kube-flannel", "kube-flannel-namespace"}, "'calico' 'nfs'"},
		{"none", nil, []string{"kube-flannel", "kube-flannel-namespace", "kube-calico"}, "'none' '-'"},
	} {
		t.Run(c.cni, func(t *testing.T) {
			rec, err := runMocked(t, labConfig(t, map[string]string{
				"nixlab:kubernetes": `{"cni":"` + c.cni + `","podCidr":"10.50.0.0/16"}`,
			}), false, stack.Program)
			if err != nil {
				t.Fatal(err)
			}
			names := rec.kubeResources()
			for _, w := range c.want {
				if !slices.Contains(names, w) {
					t.Errorf("%s is not installed", w)
				}
			}
			for _, w := range c.notWant {
				if slices.Contains(names, w) {
					t.Errorf("%s is installed with cni %s", w, c.cni)
				}
			}
			if got := rec.get(t, kubeCheckStep).Inputs["create"].StringValue(); !strings.Contains(got, c.checkCNI) {
				t.Errorf("kube-check does not check %s", c.checkCNI)
			}
			csi := rec.get(t, "kube-csi-driver-nfs").Inputs
			if skip := csi["skipAwait"]; skip.IsBool() && skip.BoolValue() != (c.cni == "none") {
				t.Errorf("csi-driver-nfs skipAwait = %v with cni %s", skip, c.cni)
			}
			switch c.cni {
			case "flannel":
				ns := rec.get(t, "kube-flannel-namespace").Inputs["metadata"].ObjectValue()
				if l := ns["labels"].ObjectValue()["pod-security.kubernetes.io/enforce"]; l.StringValue() != "privileged" {
					t.Errorf("kube-flannel namespace label = %v", l)
				}
				rel := rec.get(t, "kube-flannel").Inputs
				assertRelease(t, rel, "flannel", components.FlannelChartVersion, components.FlannelChartRepo, "kube-flannel")
				if v := rel["values"].ObjectValue()["podCidr"]; v.StringValue() != "10.50.0.0/16" {
					t.Errorf("flannel podCidr = %v", v)
				}
			case "calico":
				rel := rec.get(t, "kube-calico").Inputs
				assertRelease(t, rel, "tigera-operator", components.CalicoChartVersion, components.CalicoChartRepo, "tigera-operator")
				inst := rel["values"].ObjectValue()["installation"].ObjectValue()
				pool := inst["calicoNetwork"].ObjectValue()["ipPools"].ArrayValue()[0].ObjectValue()
				if pool["cidr"].StringValue() != "10.50.0.0/16" || inst["flexVolumePath"].StringValue() != "None" {
					t.Errorf("calico installation values %v", inst)
				}
			}
		})
	}
}

// assertRelease checks a helm/v3 Release's chart, pinned version,
// repository and namespace.
func assertRelease(t *testing.T, in resource.PropertyMap, chart, version, repo, ns string) {
	t.Helper()
	if in["chart"].StringValue() != chart || in["version"].StringValue() != version || in["namespace"].StringValue() != ns {
		t.Errorf("release chart %v version %v namespace %v, want %s %s %s", in["chart"], in["version"], in["namespace"], chart, version, ns)
	}
	if r := in["repositoryOpts"].ObjectValue()["repo"]; r.StringValue() != repo {
		t.Errorf("release repo %v, want %s", r, repo)
	}
}

// TestKubernetesStorageOffWithoutNFS: without nixlab:nfs there is no
// csi-driver-nfs and no StorageClass, and the check tests no PVC.
func TestKubernetesStorageOffWithoutNFS(t *testing.T) {
	rec, err := runMocked(t, labConfig(t, map[string]string{
		"nixlab:nfs":        "",
		"nixlab:kubernetes": `{"cni":"flannel"}`,
	}), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	names := rec.kubeResources()
	for _, n := range []string{"kube-csi-driver-nfs", "kube-storage-class"} {
		if slices.Contains(names, n) {
			t.Errorf("%s is installed without NFS", n)
		}
	}
	if got := rec.get(t, kubeCheckStep).Inputs["create"].StringValue(); !strings.Contains(got, "'flannel' '-'") {
		t.Error("kube-check tests a storage class without NFS")
	}
	if !rec.dependsOn(t, kubeCheckStep, "kube-flannel") {
		t.Error("kube-check does not wait for the CNI")
	}
}

// TestKubernetesDisabledKeepsTheGraph: nixlab:kubernetes.enabled false
// registers exactly the resources of an enabled stack that are not the
// cluster's, with the same inputs; no stack output names the cluster.
func TestKubernetesDisabledKeepsTheGraph(t *testing.T) {
	state := t.TempDir()
	on := labConfig(t, map[string]string{"nixlab:stateDir": state})
	off := labConfig(t, map[string]string{"nixlab:stateDir": state, "nixlab:kubernetes": `{"enabled":false}`})
	withK, err := runMocked(t, on, false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	var outs map[string]pulumi.Input
	without, err := runMocked(t, off, false, withLab(func(ctx *pulumi.Context, cfg *stack.Config, lab *stack.Lab) error {
		if lab.Kubernetes != nil {
			t.Error("lab.Kubernetes is set with kubernetes disabled")
		}
		outs = stack.Outputs(ctx, cfg, lab)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	cluster := rec2set(withK.kubeResources())
	cluster[kubeComponent] = true
	// The drains around VM updates exist only for a cluster; the roll
	// steps exist either way and say whether Kubernetes runs.
	for name := range withK.regs {
		if strings.HasSuffix(name, "-drain") || strings.HasSuffix(name, "-uncordon") {
			cluster[name] = true
		}
	}
	if len(cluster) < 10 {
		t.Fatalf("the enabled stack has only %d cluster resources", len(cluster))
	}
	for name, reg := range withK.regs {
		if cluster[name] {
			if _, ok := without.regs[name]; ok {
				t.Errorf("%s is registered with kubernetes disabled", name)
			}
			continue
		}
		other, ok := without.regs[name]
		if !ok {
			t.Errorf("%s is missing with kubernetes disabled", name)
			continue
		}
		if strings.HasSuffix(name, "-roll") {
			on, off := rollEnv(t, withK, name)["NIXLAB_KUBERNETES"], rollEnv(t, without, name)["NIXLAB_KUBERNETES"]
			if on != "yes" || off != "no" {
				t.Errorf("%s: NIXLAB_KUBERNETES %q with and %q without kubernetes", name, on, off)
			}
			continue
		}
		if !other.Inputs.DeepEquals(reg.Inputs) {
			t.Errorf("%s inputs differ with kubernetes disabled: %v", name, reg.Inputs.Diff(other.Inputs))
		}
	}
	if len(without.regs) != len(withK.regs)-len(cluster) {
		t.Errorf("%d resources without kubernetes, want %d", len(without.regs), len(withK.regs)-len(cluster))
	}
	for _, k := range []string{stack.OutputKubeconfig, stack.OutputKubernetesEndpoint} {
		if _, ok := outs[k]; ok {
			t.Errorf("stack output %s exists with kubernetes disabled", k)
		}
	}
}

func rec2set(names []string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// TestKubernetesSecondRunRunsNoStep: a second `up` with the same config
// compares every kube step with its state and runs none again (the
// contract variants, Kubernetes on, are in TestSecondRunChangesNothing).
func TestKubernetesSecondRunRunsNoStep(t *testing.T) {
	cfg := haConfig(t, t.TempDir())
	first, second := secondRun(t, cfg, cfg, stack.Program)
	if got := changedResources(second); len(got) != 0 {
		t.Errorf("second run changes %v", got)
	}
	for _, name := range first.kubeResources() {
		if _, ok := second.diffs[name]; !ok && first.regs[name].Custom {
			t.Errorf("%s was not compared with its state", name)
		}
	}
}
