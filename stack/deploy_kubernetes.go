package stack

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
)

// KubernetesClusterName is the resource name of the cluster component.
const KubernetesClusterName = "kubernetes"

// deployKubernetes bootstraps the cluster on the ready nodes when
// nixlab:kubernetes.enabled is true (the default) and there are nodes; it
// leaves lab.Kubernetes nil otherwise, and the graph as without Kubernetes.
func deployKubernetes(ctx *pulumi.Context, cfg *Config, lab *Lab, opts []pulumi.ResourceOption) error {
	if !cfg.Kubernetes.IsEnabled() {
		return nil
	}
	args := kubernetesArgs(cfg, lab)
	if len(args.ControlPlanes) == 0 && len(args.Workers) == 0 {
		return nil
	}
	k, err := components.NewKubernetesCluster(ctx, KubernetesClusterName, args, opts...)
	if err != nil {
		return fmt.Errorf("%s:kubernetes: %w", Namespace, err)
	}
	lab.Kubernetes = k
	return nil
}

// nodesByRole are the deployed nodes, control planes and workers, each in
// GroupOrder (control-plane groups first, then by name) and index order
// within a group: the join order of the cluster and the roll order.
func nodesByRole(cfg *Config, lab *Lab) (controlPlanes, workers []*components.Node) {
	for _, name := range cfg.GroupOrder() {
		g := lab.NodeGroups[name]
		if g == nil {
			continue
		}
		for _, n := range g.Nodes {
			if n.Role == RoleControlPlane {
				controlPlanes = append(controlPlanes, n)
			} else {
				workers = append(workers, n)
			}
		}
	}
	return controlPlanes, workers
}

// kubernetesArgs maps the config and the deployed node groups onto the
// cluster: control planes of every control-plane group in group order
// (GroupOrder: control planes first, then by name), each group's nodes in
// index order; workers likewise. The endpoint is
// nixlab:kubernetes.controlPlaneEndpoint (Config.KubernetesEndpoint); the
// storage class exists when nixlab:nfs is set.
func kubernetesArgs(cfg *Config, lab *Lab) *components.KubernetesClusterArgs {
	k := cfg.Kubernetes
	host, vip := cfg.KubernetesEndpoint()
	args := &components.KubernetesClusterArgs{
		ClusterName:   cfg.ClusterName,
		SSHPrivateKey: lab.SSHKey.PrivateKeyOpenssh,
		Endpoint:      host,
		VIP:           vip,
		PodCIDR:       k.PodCIDR,
		ServiceCIDR:   k.ServiceCIDR,
		Swap:          swapGB(cfg) > 0,
		CNI:           k.CNI,
		Version:       k.Version,
	}
	args.ControlPlanes, args.Workers = nodesByRole(cfg, lab)
	if cfg.NFS != nil {
		s := k.Storage
		args.Storage = &components.ClusterStorage{
			Server:       cfg.NFS.Server,
			Share:        cfg.NFS.Export,
			ClassName:    s.ClassName,
			DefaultClass: s.IsDefaultClass(),
			SubDir:       s.SubDir,
			OnDelete:     s.OnDelete,
			MountOptions: append([]string{}, cfg.NFS.Options...),
		}
	}
	return args
}
