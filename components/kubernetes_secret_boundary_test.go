package components

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// plainMocks answers every resource with its inputs plus plain (never
// secret) generated values: no schema, no engine secrecy. Whatever is
// secret in what nixlab registers, nixlab made so.
type plainMocks struct {
	mu   sync.Mutex
	regs map[string]resource.PropertyMap
}

const (
	plainTokenSecret = "0123456789abcdef"
	plainCertKey     = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	plainKubeconfig  = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: c2VjcmV0\n"
)

func (m *plainMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.regs[args.Name] = args.Inputs
	m.mu.Unlock()
	out := args.Inputs.Copy()
	switch args.Name {
	case "kube-token-id":
		out["result"] = resource.NewStringProperty("abc123")
	case "kube-token-secret":
		out["result"] = resource.NewStringProperty(plainTokenSecret)
	case "kube-certificate-key":
		out["result"] = resource.NewStringProperty(plainCertKey)
	case "cp-1-kube-init":
		out["stdout"] = resource.NewStringProperty("sha256:" + strings.Repeat("ab", 32))
	case "kube-kubeconfig":
		out["stdout"] = resource.NewStringProperty(plainKubeconfig)
	}
	return args.Name + "-id", out, nil
}

func (m *plainMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// TestKubernetesSecretsAtNixlabsBoundary: with a mock that makes nothing
// secret, the kubeadm configs on stdin, the component's kubeconfig and the
// provider's kubeconfig are secrets, and no command line carries a secret.
func TestKubernetesSecretsAtNixlabsBoundary(t *testing.T) {
	mocks := &plainMocks{regs: map[string]resource.PropertyMap{}}
	var kubeconfigSecret bool
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		node := func(name, role string) (*Node, error) {
			v, err := vm.NewVirtualMachine(ctx, name, &vm.VirtualMachineArgs{NodeName: pulumi.String("pve")})
			if err != nil {
				return nil, err
			}
			ready, err := remote.NewCommand(ctx, name+"-ready", &remote.CommandArgs{
				Connection: remote.ConnectionArgs{Host: pulumi.String("10.0.0.1")}, Create: pulumi.String("true")})
			if err != nil {
				return nil, err
			}
			return &Node{Name: "lab-" + name, Role: role, VM: v, Ready: ready,
				IPv4: pulumi.String("10.0.0.1").ToStringOutput(), User: pulumi.String("nixos").ToStringOutput()}, nil
		}
		cp, err := node("cp-1", RoleControlPlane)
		if err != nil {
			return err
		}
		w, err := node("w-1", RoleWorker)
		if err != nil {
			return err
		}
		c, err := NewKubernetesCluster(ctx, "k8s", &KubernetesClusterArgs{
			ClusterName: "lab", ControlPlanes: []*Node{cp}, Workers: []*Node{w},
			SSHPrivateKey: pulumi.String("-----BEGIN OPENSSH PRIVATE KEY-----"),
			PodCIDR:       "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", CNI: CNIFlannel,
		})
		if err != nil {
			return err
		}
		res, err := awaitOutput(c.Kubeconfig)
		kubeconfigSecret = res
		return err
	}, pulumi.WithMocks("nixlab", "lab", mocks))
	if err != nil {
		t.Fatal(err)
	}
	if !kubeconfigSecret {
		t.Error("KubernetesCluster.Kubeconfig is not a secret")
	}
	for _, name := range []string{"cp-1-kube-init", "w-1-kube-prepare", "w-1-kube-join"} {
		in := mocks.regs[name]
		if in == nil {
			t.Fatalf("%s was not registered", name)
		}
		if !in["stdin"].IsSecret() {
			t.Errorf("%s: stdin is handed over in plain text", name)
		} else if !strings.Contains(in["stdin"].SecretValue().Element.StringValue(), plainTokenSecret) {
			t.Errorf("%s: stdin does not carry the token", name)
		}
	}
	if k := mocks.regs["kube-provider"]["kubeconfig"]; !k.IsSecret() {
		t.Error("the provider gets the kubeconfig in plain text")
	}
	for name, in := range mocks.regs {
		for _, k := range []resource.PropertyKey{"create", "delete"} {
			v := in[k]
			if !v.IsString() {
				continue
			}
			for _, s := range []string{plainTokenSecret, plainCertKey, "c2VjcmV0"} {
				if strings.Contains(v.StringValue(), s) {
					t.Errorf("%s: the %s command line holds a secret", name, k)
				}
			}
		}
	}
}

// awaitOutput reports whether out resolves as a secret.
func awaitOutput(out pulumi.StringOutput) (bool, error) {
	res, err := internals.UnsafeAwaitOutput(context.Background(), out)
	return res.Secret, err
}
