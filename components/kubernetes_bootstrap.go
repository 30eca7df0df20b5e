package components

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components/kubeadm"
)

// Script roles, as the kube-*.sh scripts take them.
func roleArg(n *Node) string {
	if n.Role == RoleControlPlane {
		return RoleControlPlane
	}
	return RoleWorker
}

// init registers `kubeadm init` on the first control plane, after its
// readiness check. Its stdin is the InitConfiguration, rendered inside an
// Apply over the secrets (so a secret); its stdout is the CA certificate
// hash the joins need. It runs again only when the first control plane's VM
// is replaced.
func (b *clusterBuilder) init() error {
	a := b.a
	b.vipManifest = "-"
	if a.VIP {
		manifest, err := kubeadm.KubeVIPManifest(a.Endpoint)
		if err != nil {
			return fmt.Errorf("kube-vip manifest: %w", err)
		}
		b.vipManifest = base64.StdEncoding.EncodeToString(manifest)
	}
	cp1 := b.cp1
	stdin := pulumi.All(b.token, b.certKey, b.host).ApplyT(func(v []any) (string, error) {
		cfg, err := kubeadm.InitConfig(a.spec(v[2].(string)), cp1.Name, v[0].(string), v[1].(string))
		return string(cfg), err
	}).(pulumi.StringOutput)
	init, err := b.run.run(b.onFirstControlPlane(nodeStep{
		Name:     b.stepName(cp1, "kube-init"),
		Script:   "kube-init.sh",
		Args:     []string{cp1.Name, b.versionArg(), b.vipManifest, seconds(a.Timeout)},
		Stdin:    stdin,
		Triggers: pulumi.Array{cp1.VM.ID()},
		After:    []pulumi.Resource{cp1.Ready},
	}))
	if err != nil {
		return err
	}
	b.c.Init = init
	b.last = init
	return nil
}

// caCertHash is init's stdout, the discovery hash, without whitespace.
func (b *clusterBuilder) caCertHash() pulumi.StringOutput {
	return b.c.Init.Stdout.ApplyT(strings.TrimSpace).(pulumi.StringOutput)
}

// joins registers the steps of every other node: control planes, then
// workers, one node at a time.
func (b *clusterBuilder) joins() error {
	others := append(append([]*Node{}, b.a.ControlPlanes[1:]...), b.a.Workers...)
	for _, n := range others {
		steps, err := b.join(n)
		if err != nil {
			return err
		}
		b.c.Nodes = append(b.c.Nodes, steps)
		b.last = steps.Registered
	}
	return nil
}

// join registers node n's three steps after b.last (the previous node's
// kube-node step, or init). Each is triggered by n's VM ID: a replaced VM
// joins again, and nothing else makes them run again.
func (b *clusterBuilder) join(n *Node) (*KubernetesNodeSteps, error) {
	a := b.a
	role := roleArg(n)
	cp := n.Role == RoleControlPlane
	triggers := func() pulumi.Array { return pulumi.Array{n.VM.ID()} }
	deletedWith := b.c.Init
	steps := &KubernetesNodeSteps{Node: n}

	tokenCfg := pulumi.All(b.token, b.certKey, b.host).ApplyT(func(v []any) (string, error) {
		cfg, err := kubeadm.TokenConfig(a.spec(v[2].(string)), v[0].(string), v[1].(string))
		return string(cfg), err
	}).(pulumi.StringOutput)
	var err error
	steps.Prepare, err = b.run.run(b.onFirstControlPlane(nodeStep{
		Name:         b.stepName(n, "kube-prepare"),
		Script:       "kube-prepare.sh",
		Args:         []string{n.Name, role, seconds(a.Timeout)},
		DeleteScript: "kube-forget.sh",
		DeleteArgs:   []string{n.Name, role},
		Stdin:        tokenCfg,
		Triggers:     triggers(),
		After:        []pulumi.Resource{b.last, n.Ready},
		DeletedWith:  deletedWith,
	}))
	if err != nil {
		return nil, err
	}

	vip := "-"
	if cp {
		vip = b.vipManifest
	}
	joinCfg := pulumi.All(b.token, b.certKey, b.host, b.caCertHash()).ApplyT(func(v []any) (string, error) {
		cfg, err := kubeadm.JoinConfig(a.spec(v[2].(string)), n.Name, cp, v[0].(string), v[3].(string), v[1].(string))
		return string(cfg), err
	}).(pulumi.StringOutput)
	steps.Join, err = b.run.run(nodeStep{
		Name:         b.stepName(n, "kube-join"),
		Host:         n.IPv4,
		User:         n.User,
		Script:       "kube-join.sh",
		Args:         []string{n.Name, role, b.versionArg(), vip, seconds(a.Timeout)},
		DeleteScript: "kube-leave.sh",
		DeleteArgs:   []string{n.Name, role},
		Stdin:        joinCfg,
		Triggers:     triggers(),
		After:        []pulumi.Resource{steps.Prepare, n.Ready},
		DeletedWith:  deletedWith,
	})
	if err != nil {
		return nil, err
	}

	steps.Registered, err = b.run.run(b.onFirstControlPlane(nodeStep{
		Name:         b.stepName(n, "kube-node"),
		Script:       "kube-node.sh",
		Args:         []string{n.Name, seconds(a.Timeout)},
		DeleteScript: "kube-drain.sh",
		DeleteArgs:   []string{n.Name, role, seconds(a.DrainTimeout)},
		Triggers:     triggers(),
		After:        []pulumi.Resource{steps.Join},
		DeletedWith:  deletedWith,
	}))
	if err != nil {
		return nil, err
	}
	return steps, nil
}
