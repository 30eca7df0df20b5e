package components

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components/kubeadm"
)

// KubernetesClusterType is the Pulumi type token of the component.
const KubernetesClusterType = "nixlab:index:KubernetesCluster"

// CNI add-ons the cluster can run.
const (
	CNIFlannel = "flannel"
	CNICalico  = "calico"
	// CNINone installs no pod network: bring your own. Nodes stay NotReady
	// until one runs, and the cluster check only checks the nodes joined.
	CNINone = "none"
)

// Defaults of KubernetesClusterArgs.
const (
	DefaultKubernetesStepTimeout = 15 * time.Minute
	DefaultDrainTimeout          = 10 * time.Minute
)

// ClusterStorage is the NFS StorageClass of the cluster (csi-driver-nfs).
type ClusterStorage struct {
	// Server and Share are the NFS export (nixlab:nfs server and export).
	Server, Share string
	// ClassName is the StorageClass name.
	ClassName string
	// DefaultClass marks it the cluster's default StorageClass.
	DefaultClass bool
	// SubDir is csi-driver-nfs's subDir parameter; empty: the driver's
	// default (one directory per PV, named after it).
	SubDir string
	// OnDelete is delete, retain or archive: what the driver does with a
	// volume's directory when its PV is deleted.
	OnDelete string
	// MountOptions are the NFS mount options (nixlab:nfs.options).
	MountOptions []string
}

// KubernetesClusterArgs configure the kubeadm cluster on ready nodes. The
// node lists and every setting that shapes the graph are plain values.
type KubernetesClusterArgs struct {
	// ClusterName is kubeadm's clusterName and the provider's cluster
	// identifier; also the prefix of node names, stripped from step names.
	ClusterName string
	// ControlPlanes in join order; ControlPlanes[0] runs `kubeadm init`
	// and every cluster-wide step. Required.
	ControlPlanes []*Node
	// Workers in join order, after every control plane.
	Workers []*Node
	// SSHPrivateKey logs the steps in; made a secret here.
	SSHPrivateKey pulumi.StringInput
	// Endpoint is the API host without port; "" means ControlPlanes[0]'s
	// IPv4 address (allowed with one control plane only).
	Endpoint string
	// VIP runs kube-vip for Endpoint (an IPv4 address no node owns).
	VIP bool
	// PodCIDR and ServiceCIDR are kubeadm's networking subnets.
	PodCIDR, ServiceCIDR string
	// Swap says the nodes have swap (the kubelet is told to tolerate it).
	Swap bool
	// CNI is CNIFlannel, CNICalico or CNINone.
	CNI string
	// Storage is the NFS StorageClass; nil: none.
	Storage *ClusterStorage
	// Version is "" or the "major.minor" every node's kubeadm must have.
	Version string
	// Timeout bounds each step's waits; default 15 minutes.
	Timeout time.Duration
	// DrainTimeout bounds the drain of a removed node; default 10 minutes.
	DrainTimeout time.Duration
}

// KubernetesNodeSteps are the steps that bring one node (other than the
// first control plane) into the cluster, in order. Deleting the node runs
// their delete scripts in the reverse order: Registered (drain, on the first
// control plane), Join (leave, on the node), Prepare (forget, on the first
// control plane); then the node's readiness check and VM go.
type KubernetesNodeSteps struct {
	Node *Node
	// Prepare (first control plane): a fresh token and, for a control
	// plane, freshly uploaded certificates. Delete: kube-forget.sh.
	Prepare *remote.Command
	// Join (the node): `kubeadm join`. Delete: kube-leave.sh.
	Join *remote.Command
	// Registered (first control plane): waits for the Node object.
	// Delete: kube-drain.sh.
	Registered *remote.Command
}

// KubernetesCluster is a kubeadm cluster bootstrapped over SSH on nodes
// that passed their readiness checks, with its add-ons installed through
// the Kubernetes provider.
type KubernetesCluster struct {
	pulumi.ResourceState

	// Endpoint is the API server URL, https://<host>:6443.
	Endpoint pulumi.StringOutput
	// Kubeconfig is the cluster's admin.conf; a secret.
	Kubeconfig pulumi.StringOutput
	// Provider is the Kubernetes provider the add-ons use.
	Provider *kubernetes.Provider
	// Init is `kubeadm init` on the first control plane: the DeletedWith
	// target of every other step of the cluster.
	Init *remote.Command
	// Nodes are the join steps of every other node, in join order.
	Nodes []*KubernetesNodeSteps
	// KubeconfigStep reads admin.conf.
	KubeconfigStep *remote.Command
	// AddOns are the CNI, csi-driver-nfs and StorageClass resources, in
	// order.
	AddOns []pulumi.Resource
	// Check is the cluster check, the last step.
	Check *remote.Command
}

func (a KubernetesClusterArgs) withDefaults() KubernetesClusterArgs {
	if a.Timeout == 0 {
		a.Timeout = DefaultKubernetesStepTimeout
	}
	if a.DrainTimeout == 0 {
		a.DrainTimeout = DefaultDrainTimeout
	}
	if a.CNI == "" {
		a.CNI = CNIFlannel
	}
	return a
}

func (a KubernetesClusterArgs) check(name string) error {
	var errs []error
	if len(a.ControlPlanes) == 0 {
		errs = append(errs, errors.New("no control-plane node: add a node group with role control-plane"))
	}
	if a.Endpoint == "" && len(a.ControlPlanes) > 1 {
		errs = append(errs, errors.New("more than one control plane needs an Endpoint (nixlab:kubernetes.controlPlaneEndpoint)"))
	}
	if a.VIP && a.Endpoint == "" {
		errs = append(errs, errors.New("VIP without an Endpoint address"))
	}
	if a.SSHPrivateKey == nil {
		errs = append(errs, errors.New("SSHPrivateKey is required"))
	}
	switch a.CNI {
	case CNIFlannel, CNICalico, CNINone:
	default:
		errs = append(errs, fmt.Errorf("CNI %q: use %s, %s or %s", a.CNI, CNIFlannel, CNICalico, CNINone))
	}
	if s := a.Storage; s != nil {
		if s.Server == "" || s.Share == "" || s.ClassName == "" {
			errs = append(errs, errors.New("Storage needs Server, Share and ClassName"))
		}
		switch s.OnDelete {
		case "", "delete", "retain", "archive":
		default:
			errs = append(errs, fmt.Errorf("Storage.OnDelete %q: use delete, retain or archive", s.OnDelete))
		}
	}
	seen := map[string]bool{}
	for _, n := range append(append([]*Node{}, a.ControlPlanes...), a.Workers...) {
		if n == nil || n.VM == nil || n.Ready == nil {
			errs = append(errs, errors.New("every node needs its VM and readiness check"))
			break
		}
		if seen[n.Name] {
			errs = append(errs, fmt.Errorf("node %s is listed twice", n.Name))
		}
		seen[n.Name] = true
	}
	// The spec as kubeadm checks it; an unset endpoint stands for the
	// first control plane's address, checked when known.
	if err := a.spec(a.endpointOr("192.0.2.1")).Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("KubernetesCluster %s: %w", name, err)
	}
	return nil
}

// endpointOr is the configured endpoint, or def when none is.
func (a KubernetesClusterArgs) endpointOr(def string) string {
	if a.Endpoint != "" {
		return a.Endpoint
	}
	return def
}

// spec is the kubeadm cluster spec with the given endpoint host.
func (a KubernetesClusterArgs) spec(endpoint string) kubeadm.ClusterSpec {
	return kubeadm.ClusterSpec{
		ClusterName:           a.ClusterName,
		Endpoint:              endpoint,
		PodCIDR:               a.PodCIDR,
		ServiceCIDR:           a.ServiceCIDR,
		Swap:                  a.Swap,
		ControlPlaneWorkloads: len(a.Workers) == 0,
	}
}

// NewKubernetesCluster registers the cluster on the given nodes, in this
// order (each stage waits for the one before):
//  1. the bootstrap token and certificate key, generated as secrets;
//  2. `<cp1>-kube-init`: `kubeadm init` on the first control plane, after
//     its readiness check;
//  3. per other node, control planes first, each after the previous node's
//     kube-node step: `<n>-kube-prepare` → `<n>-kube-join` → `<n>-kube-node`;
//  4. `kube-kubeconfig`: admin.conf read back as a secret, and the
//     Kubernetes provider fed with it;
//  5. the CNI (flannel or calico, or none), then csi-driver-nfs and the
//     StorageClass;
//  6. `kube-check`: nodes Ready, CoreDNS answering, a test PVC bound.
//
// Every step but init has pulumi.DeletedWith(Init): `destroy` removes the
// cluster with its VMs and runs no per-node drain. Steps run again only
// when their triggers change (the node's VM was replaced).
func NewKubernetesCluster(ctx *pulumi.Context, name string, args *KubernetesClusterArgs, opts ...pulumi.ResourceOption) (*KubernetesCluster, error) {
	if args == nil {
		return nil, errors.New("KubernetesCluster: args are required")
	}
	a := args.withDefaults()
	if err := a.check(name); err != nil {
		return nil, err
	}
	c := &KubernetesCluster{}
	if err := ctx.RegisterComponentResource(KubernetesClusterType, name, c, opts...); err != nil {
		return nil, err
	}
	b := &clusterBuilder{
		ctx: ctx, c: c, name: name, a: a,
		run: stepRunner{ctx: ctx, parent: c, key: a.SSHPrivateKey},
		cp1: a.ControlPlanes[0],
	}
	if a.Endpoint != "" {
		b.host = pulumi.String(a.Endpoint).ToStringOutput()
	} else {
		b.host = b.cp1.IPv4
	}
	c.Endpoint = pulumi.Sprintf("https://%s:%d", b.host, kubeadm.APIServerPort)
	stages := []func() error{b.secrets, b.init, b.joins, b.kubeconfig, b.addOns, b.check}
	for _, stage := range stages {
		if err := stage(); err != nil {
			return nil, fmt.Errorf("KubernetesCluster %s: %w", name, err)
		}
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"endpoint":   c.Endpoint,
		"kubeconfig": c.Kubeconfig,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// clusterBuilder holds what every stage of one cluster is built from.
type clusterBuilder struct {
	ctx  *pulumi.Context
	c    *KubernetesCluster
	name string
	a    KubernetesClusterArgs
	run  stepRunner
	cp1  *Node
	// host is the endpoint host (known at preview unless it is a DHCP
	// node's address).
	host pulumi.StringOutput
	// secrets are the bootstrap token and certificate key (secrets).
	token, certKey pulumi.StringOutput
	// last is the step every later stage waits for.
	last pulumi.Resource
	// vipManifest is the kube-vip static pod, base64, or "-".
	vipManifest string
}

// stepName is a node's step name: the node name without the cluster
// prefix (the name of its VM resource), then the step.
func (b *clusterBuilder) stepName(n *Node, step string) string {
	return strings.TrimPrefix(n.Name, b.a.ClusterName+"-") + "-" + step
}

// seconds formats a duration as whole seconds for a script argument.
func seconds(d time.Duration) string {
	return strconv.Itoa(int(d / time.Second))
}

// versionArg is the version argument of the scripts: "-" for any.
func (b *clusterBuilder) versionArg() string {
	return versionArg(b.a.Version)
}

// versionArg is a Kubernetes "major.minor" as the scripts take it: "-"
// for "" (any version).
func versionArg(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// onFirstControlPlane fills the connection of a step that runs on the
// first control plane.
func (b *clusterBuilder) onFirstControlPlane(s nodeStep) nodeStep {
	s.Host, s.User = b.cp1.IPv4, b.cp1.User
	return s
}
