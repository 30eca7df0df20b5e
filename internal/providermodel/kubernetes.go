package providermodel

import (
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"sigs.k8s.io/yaml"
)

// Type tokens of the Kubernetes provider (pulumi-kubernetes v4.32.0).
const (
	TypeKubernetesProvider = "pulumi:providers:kubernetes"
	TypeHelmRelease        = "kubernetes:helm.sh/v3:Release"
	TypeStorageClass       = "kubernetes:storage.k8s.io/v1:StorageClass"
	TypeNamespace          = "kubernetes:core/v1:Namespace"
)

// Sources of the Kubernetes rules (pulumi/pulumi-kubernetes v4.32.0).
const (
	srcK8sDiffConfig = "provider/pkg/provider/provider.go (kubeProvider.DiffConfig)"
	srcK8sDiff       = "provider/pkg/provider/provider.go (kubeProvider.Diff: old inputs from the state's __inputs) " +
		"and provider/pkg/provider/diff.go (forceNewProperties: metadata.name, metadata.namespace; " +
		"storage.k8s.io/v1 StorageClass parameters, provisioner)"
	srcHelmRelease = "provider/pkg/provider/helm_release.go (Create: status ReleaseStatus; Diff: old inputs, " +
		"forceNewFields .name .namespace)"
	srcK8sRead = "provider/pkg/provider/provider.go (Create/Read: the state is the live object, which the API " +
		"server fills: metadata.uid, resourceVersion, creationTimestamp; kubernetes/pkg/registry " +
		"namespace strategy adds the kubernetes.io/metadata.name label)"
)

var kubernetesProviderRules = []Rule{{
	Name:   "provider-state-is-inputs",
	Source: srcK8sDiffConfig + " (a provider's state is its inputs)",
}}

var helmReleaseRules = []Rule{{
	Name:   "release-status-computed",
	Source: srcHelmRelease,
	Read: func(state resource.PropertyMap, env Env) {
		if env.Preview {
			return
		}
		rev := 1.0
		state["status"] = resource.NewObjectProperty(resource.PropertyMap{
			"name":      unwrap(state["name"]),
			"namespace": unwrap(state["namespace"]),
			"chart":     unwrap(state["chart"]),
			"version":   unwrap(state["version"]),
			"revision":  resource.NewNumberProperty(rev),
			"status":    resource.NewStringProperty("deployed"),
		})
	},
}}

// liveMetadata adds what the API server fills into an object's metadata.
func liveMetadata(state resource.PropertyMap, env Env) {
	if env.Preview {
		return
	}
	meta := object(state, "metadata")
	if meta == nil {
		meta = resource.PropertyMap{}
		state["metadata"] = resource.NewObjectProperty(meta)
	}
	meta["uid"] = resource.NewStringProperty(hexSeed(env.Seed))
	meta["resourceVersion"] = resource.NewStringProperty("1")
	meta["creationTimestamp"] = resource.NewStringProperty("2026-01-01T00:00:00Z")
}

func hexSeed(seed string) string {
	b := seededBytes(seed, 16)
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 32)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

var storageClassRules = []Rule{{Name: "live-object-metadata", Source: srcK8sRead, Read: liveMetadata}}

var namespaceRules = []Rule{{
	Name:   "live-namespace",
	Source: srcK8sRead,
	Read: func(state resource.PropertyMap, env Env) {
		liveMetadata(state, env)
		if env.Preview {
			return
		}
		meta := object(state, "metadata")
		labels := object(meta, "labels")
		if labels == nil {
			labels = resource.PropertyMap{}
		} else {
			labels = DeepCopy(labels)
		}
		labels["kubernetes.io/metadata.name"] = unwrap(meta["name"])
		meta["labels"] = resource.NewObjectProperty(labels)
		state["status"] = resource.NewObjectProperty(resource.PropertyMap{"phase": resource.NewStringProperty("Active")})
	},
}}

// kubernetesProviderDiff is DiffConfig: a changed clusterIdentifier
// replaces the provider; an unchanged, set one never does; without one, an
// unknown kubeconfig, or a kubeconfig whose active cluster changed,
// replaces it. Every other change is an update.
func kubernetesProviderDiff(olds, news resource.PropertyMap) DiffResult {
	d := plainDiff(olds, news)
	if d.Empty() {
		return d
	}
	oldID, newID := unwrap(olds["clusterIdentifier"]), unwrap(news["clusterIdentifier"])
	if oldID.IsString() && newID.IsString() {
		d.Replace = oldID.StringValue() != newID.StringValue()
		return d
	}
	if unwrap(news["kubeconfig"]).IsComputed() {
		d.Replace = true
		return d
	}
	oldCluster, ok1 := activeCluster(unwrap(olds["kubeconfig"]))
	newCluster, ok2 := activeCluster(unwrap(news["kubeconfig"]))
	d.Replace = ok1 && ok2 && !reflect.DeepEqual(oldCluster, newCluster)
	return d
}

// activeCluster is the cluster entry of a kubeconfig's current context.
func activeCluster(v resource.PropertyValue) (map[string]any, bool) {
	if !v.IsString() {
		return nil, false
	}
	var cfg struct {
		CurrentContext string `json:"current-context"`
		Contexts       []struct {
			Name    string `json:"name"`
			Context struct {
				Cluster string `json:"cluster"`
			} `json:"context"`
		} `json:"contexts"`
		Clusters []struct {
			Name    string         `json:"name"`
			Cluster map[string]any `json:"cluster"`
		} `json:"clusters"`
	}
	if err := yaml.Unmarshal([]byte(v.StringValue()), &cfg); err != nil {
		return nil, false
	}
	for _, c := range cfg.Contexts {
		if c.Name != cfg.CurrentContext {
			continue
		}
		for _, cl := range cfg.Clusters {
			if cl.Name == c.Context.Cluster {
				return cl.Cluster, true
			}
		}
	}
	return nil, false
}

// kubernetesObjectDiff compares the old inputs with the new ones (the
// provider ignores what the API server filled); a change under a forceNew
// path replaces the object.
func kubernetesObjectDiff(typ string, oldInputs, news resource.PropertyMap) DiffResult {
	d := plainDiff(oldInputs, news)
	forceNew := []string{"metadata.name", "metadata.namespace"}
	switch typ {
	case TypeStorageClass:
		forceNew = append(forceNew, "parameters", "provisioner")
	case TypeHelmRelease:
		forceNew = []string{"name", "namespace"}
	}
	for _, p := range d.Changed {
		if p == "metadata" {
			om, nm := object(oldInputs, "metadata"), object(news, "metadata")
			for _, k := range []resource.PropertyKey{"name", "namespace"} {
				if !unwrap(om[k]).DeepEquals(unwrap(nm[k])) {
					d.Replace = true
				}
			}
			continue
		}
		for _, f := range forceNew {
			if p == f || strings.HasPrefix(p, f+".") {
				d.Replace = true
			}
		}
	}
	return d
}
