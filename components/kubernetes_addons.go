package components

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Pinned add-on charts. Each is installed with helm/v3.Release, which
// previews without a reachable cluster (helm/v4.Chart and yaml/v2 are
// component resources expanded through Construct against the cluster).
//
//   - flannel: chart `flannel` from https://flannel-io.github.io/flannel/
//     (flannel-io/flannel chart/kube-flannel/Chart.yaml: name flannel, the
//     chart version carries the `v` of the release; values.yaml: podCidr,
//     image ghcr.io/flannel-io/flannel v0.28.9). The namespace needs the
//     privileged Pod Security level (flannel's kube-flannel.yml labels it
//     so): nixlab creates it first with that label.
//   - calico: chart `tigera-operator` from https://docs.tigera.io/calico/charts
//     (projectcalico/calico charts/tigera-operator/values.yaml at v3.31.5:
//     installation.* is the operator's Installation spec;
//     installation.calicoNetwork.ipPools[].cidr is the pod CIDR, and
//     flexVolumePath "None" keeps the operator from installing a
//     flexvolume driver under /usr/libexec, read-only on NixOS).
//   - csi-driver-nfs: chart `csi-driver-nfs` from https://raw.githubusercontent.com/
//     kubernetes-csi/csi-driver-nfs/master/charts (charts/README.md: no `v`
//     in chart versions since 4.11.0; charts/v4.13.4/csi-driver-nfs/values.yaml:
//     kubeletDir /var/lib/kubelet, externalSnapshotter.enabled, driver.name
//     nfs.csi.k8s.io, storageClass.create false, which nixlab keeps: it
//     registers its own StorageClass).
const (
	FlannelChartVersion      = "v0.28.9"
	FlannelChartRepo         = "https://flannel-io.github.io/flannel/"
	FlannelNamespace         = "kube-flannel"
	CalicoChartVersion       = "v3.31.5"
	CalicoChartRepo          = "https://docs.tigera.io/calico/charts"
	CalicoNamespace          = "tigera-operator"
	CSIDriverNFSChartVersion = "4.13.4"
	CSIDriverNFSChartRepo    = "https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts"
	CSIDriverNFSNamespace    = "kube-system"
	// CSIDriverNFSProvisioner is the driver's name (values.yaml driver.name).
	CSIDriverNFSProvisioner = "nfs.csi.k8s.io"
	// DefaultClassAnnotation marks the default StorageClass
	// (k8s.io/api storage/v1 annotation storageclass.kubernetes.io/is-default-class).
	DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
	// podSecurityEnforce is the Pod Security Admission namespace label.
	podSecurityEnforce = "pod-security.kubernetes.io/enforce"
	// kubeletDir is the kubelet's root on nixlab nodes (kubeadm's default).
	kubeletDir = "/var/lib/kubelet"
)

// addOns registers the Kubernetes provider and the add-ons: the CNI first,
// then csi-driver-nfs and the StorageClass. Every add-on is
// pulumi.DeletedWith(Init): it lives in the cluster, which `destroy` removes
// with its VMs.
func (b *clusterBuilder) addOns() error {
	a := b.a
	p, err := kubernetes.NewProvider(b.ctx, "kube-provider", &kubernetes.ProviderArgs{
		Kubeconfig: b.c.Kubeconfig,
		// With a cluster identifier the provider is replaced only when the
		// identifier changes; a new kubeconfig (new certificates, another
		// endpoint address) is an update, and no add-on is replaced
		// (pulumi-kubernetes v4.32.0 provider/pkg/provider/provider.go,
		// DiffConfig). The identifier is the cluster name and its CA's
		// discovery hash (what kube-init printed): stable for the life of
		// the cluster, new when init made a new cluster (the first control
		// plane replaced), so that the add-ons are installed into the new
		// cluster instead of being taken for present.
		ClusterIdentifier: pulumi.Sprintf("%s-%s", a.ClusterName, b.caCertHash()),
	}, pulumi.Parent(b.c))
	if err != nil {
		return err
	}
	b.c.Provider = p
	timeout := pulumi.Int(int(a.Timeout.Seconds()))
	opts := func(after ...pulumi.Resource) []pulumi.ResourceOption {
		return []pulumi.ResourceOption{pulumi.Parent(b.c), pulumi.Provider(p),
			pulumi.DependsOn(after), pulumi.DeletedWith(b.c.Init)}
	}
	after := []pulumi.Resource{b.c.KubeconfigStep}
	add := func(r pulumi.Resource) {
		b.c.AddOns = append(b.c.AddOns, r)
		after = []pulumi.Resource{r}
	}

	switch a.CNI {
	case CNIFlannel:
		ns, err := corev1.NewNamespace(b.ctx, "kube-flannel-namespace", &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:   pulumi.String(FlannelNamespace),
				Labels: pulumi.StringMap{podSecurityEnforce: pulumi.String("privileged")},
			},
		}, opts(after...)...)
		if err != nil {
			return err
		}
		add(ns)
		rel, err := helmv3.NewRelease(b.ctx, "kube-flannel", &helmv3.ReleaseArgs{
			Name:           pulumi.String("flannel"),
			Chart:          pulumi.String("flannel"),
			Version:        pulumi.String(FlannelChartVersion),
			RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(FlannelChartRepo)},
			Namespace:      pulumi.String(FlannelNamespace),
			Values:         pulumi.Map{"podCidr": pulumi.String(a.PodCIDR)},
			Timeout:        timeout,
		}, opts(after...)...)
		if err != nil {
			return err
		}
		add(rel)
	case CNICalico:
		rel, err := helmv3.NewRelease(b.ctx, "kube-calico", &helmv3.ReleaseArgs{
			Name:            pulumi.String("calico"),
			Chart:           pulumi.String("tigera-operator"),
			Version:         pulumi.String(CalicoChartVersion),
			RepositoryOpts:  &helmv3.RepositoryOptsArgs{Repo: pulumi.String(CalicoChartRepo)},
			Namespace:       pulumi.String(CalicoNamespace),
			CreateNamespace: pulumi.Bool(true),
			Values: pulumi.Map{"installation": pulumi.Map{
				"calicoNetwork": pulumi.Map{"ipPools": pulumi.Array{
					pulumi.Map{"cidr": pulumi.String(a.PodCIDR)},
				}},
				"flexVolumePath": pulumi.String("None"),
			}},
			Timeout: timeout,
		}, opts(after...)...)
		if err != nil {
			return err
		}
		add(rel)
	}

	if s := a.Storage; s != nil {
		rel, err := helmv3.NewRelease(b.ctx, "kube-csi-driver-nfs", &helmv3.ReleaseArgs{
			Name:           pulumi.String("csi-driver-nfs"),
			Chart:          pulumi.String("csi-driver-nfs"),
			Version:        pulumi.String(CSIDriverNFSChartVersion),
			RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(CSIDriverNFSChartRepo)},
			Namespace:      pulumi.String(CSIDriverNFSNamespace),
			Values: pulumi.Map{
				"kubeletDir":          pulumi.String(kubeletDir),
				"externalSnapshotter": pulumi.Map{"enabled": pulumi.Bool(false)},
				// The controller's csi-snapshotter sidecar is on by default
				// (charts/v4.13.0/csi-driver-nfs/values.yaml,
				// controller.enableSnapshotter) and, without the snapshot
				// CRDs the external snapshotter would bring, logs errors
				// forever (csi-driver-nfs#722).
				"controller": pulumi.Map{"enableSnapshotter": pulumi.Bool(false)},
			},
			// Without a pod network the driver's pods cannot become ready.
			SkipAwait: pulumi.Bool(a.CNI == CNINone),
			Timeout:   timeout,
		}, opts(after...)...)
		if err != nil {
			return err
		}
		add(rel)
		sc, err := storagev1.NewStorageClass(b.ctx, "kube-storage-class", storageClassArgs(s), opts(after...)...)
		if err != nil {
			return err
		}
		add(sc)
	}
	return nil
}

// storageClassArgs is the csi-driver-nfs StorageClass on the export
// (csi-driver-nfs docs/driver-parameters.md: server, share, subDir,
// onDelete; mountOptions). PVs are deleted with their claims
// (reclaimPolicy Delete); OnDelete decides what happens to the directory on
// the export. Binding is Immediate: an NFS volume fits every node.
func storageClassArgs(s *ClusterStorage) *storagev1.StorageClassArgs {
	params := pulumi.StringMap{
		"server": pulumi.String(s.Server),
		"share":  pulumi.String(s.Share),
	}
	if s.SubDir != "" {
		params["subDir"] = pulumi.String(s.SubDir)
	}
	onDelete := s.OnDelete
	if onDelete == "" {
		onDelete = "delete"
	}
	params["onDelete"] = pulumi.String(onDelete)
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(s.ClassName)}
	if s.DefaultClass {
		meta.Annotations = pulumi.StringMap{DefaultClassAnnotation: pulumi.String("true")}
	}
	args := &storagev1.StorageClassArgs{
		Metadata:          meta,
		Provisioner:       pulumi.String(CSIDriverNFSProvisioner),
		Parameters:        params,
		ReclaimPolicy:     pulumi.String("Delete"),
		VolumeBindingMode: pulumi.String("Immediate"),
	}
	if len(s.MountOptions) > 0 {
		args.MountOptions = pulumi.ToStringArray(s.MountOptions)
	}
	return args
}
