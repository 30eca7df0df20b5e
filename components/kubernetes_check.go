package components

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components/kubeadm"
)

// kubeconfig registers the read of admin.conf on the first control plane,
// after the last node joined. The step logs nothing and its stdout is an
// additional secret output, so the engine stores it only encrypted; the
// component's Kubeconfig is a secret too. It runs again only when the
// first control plane's VM is replaced.
func (b *clusterBuilder) kubeconfig() error {
	step, err := b.run.run(b.onFirstControlPlane(nodeStep{
		Name:         "kube-kubeconfig",
		Script:       "kube-kubeconfig.sh",
		Args:         []string{b.cp1.Name, seconds(b.a.Timeout)},
		Triggers:     pulumi.Array{b.cp1.VM.ID()},
		Logging:      remote.LoggingNone,
		SecretStdout: true,
		After:        []pulumi.Resource{b.last},
		DeletedWith:  b.c.Init,
	}))
	if err != nil {
		return err
	}
	b.c.KubeconfigStep = step
	b.c.Kubeconfig = pulumi.ToSecret(step.Stdout).(pulumi.StringOutput)
	b.last = step
	return nil
}

// check registers the cluster check on the first control plane, after
// every add-on: every node Ready, CoreDNS answering and, with storage, a
// test PVC bound, written and deleted (kubeadm.CheckManifests on stdin).
// Without a CNI no pod can run: the check then only counts the nodes that
// joined, and skips the PVC. It runs again when the first control plane's
// VM is replaced or the CNI or the storage class change.
func (b *clusterBuilder) check() error {
	a := b.a
	class := ""
	if a.Storage != nil && a.CNI != CNINone {
		class = a.Storage.ClassName
	}
	manifests, err := kubeadm.CheckManifests(class)
	if err != nil {
		return fmt.Errorf("check manifests: %w", err)
	}
	classArg := class
	if classArg == "" {
		classArg = "-"
	}
	after := append([]pulumi.Resource{b.last}, b.c.AddOns...)
	nodes := len(a.ControlPlanes) + len(a.Workers)
	step, err := b.run.run(b.onFirstControlPlane(nodeStep{
		Name:        "kube-check",
		Script:      "kube-check.sh",
		Args:        []string{strconv.Itoa(nodes), a.CNI, classArg, seconds(a.Timeout)},
		Stdin:       pulumi.String(string(manifests)),
		Triggers:    pulumi.Array{b.cp1.VM.ID(), pulumi.String(a.CNI), pulumi.String(classArg)},
		After:       after,
		DeletedWith: b.c.Init,
	}))
	if err != nil {
		return err
	}
	b.c.Check = step
	return nil
}
