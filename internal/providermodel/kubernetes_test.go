package providermodel

import (
	"regexp"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func kubeconfigFor(server string) string {
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user: {}\n"
}

// TestKubernetesProviderDiffConfig follows DiffConfig's cases.
func TestKubernetesProviderDiffConfig(t *testing.T) {
	props := func(id, server string) resource.PropertyMap {
		m := resource.PropertyMap{"kubeconfig": resource.MakeSecret(resource.NewStringProperty(kubeconfigFor(server)))}
		if id != "" {
			m["clusterIdentifier"] = resource.NewStringProperty(id)
		}
		return m
	}
	for _, c := range []struct {
		name            string
		olds, news      resource.PropertyMap
		changed, replac bool
	}{
		{"same", props("lab", "https://a:6443"), props("lab", "https://a:6443"), false, false},
		{"same identifier, new server: update", props("lab", "https://a:6443"), props("lab", "https://b:6443"), true, false},
		{"new identifier: replace", props("lab", "https://a:6443"), props("lab2", "https://a:6443"), true, true},
		{"no identifier, new server: replace", props("", "https://a:6443"), props("", "https://b:6443"), true, true},
		{"identifier added: no replace", props("", "https://a:6443"), props("lab", "https://a:6443"), true, false},
		{"no identifier, unknown kubeconfig: replace", props("", "https://a:6443"),
			resource.PropertyMap{"kubeconfig": resource.MakeComputed(resource.NewStringProperty(""))}, true, true},
		{"same identifier, unknown kubeconfig: update", props("lab", "https://a:6443"),
			resource.PropertyMap{"clusterIdentifier": resource.NewStringProperty("lab"), "kubeconfig": resource.MakeComputed(resource.NewStringProperty(""))}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := Diff(TypeKubernetesProvider, c.olds, c.olds, c.news, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Empty() != c.changed || d.Replace != c.replac {
				t.Errorf("diff %+v, want changed %v replace %v", d, c.changed, c.replac)
			}
		})
	}
}

// TestKubernetesObjectDiff: changes against the old inputs; names and the
// StorageClass's parameters and provisioner replace; what the API server
// filled into the state is no diff.
func TestKubernetesObjectDiff(t *testing.T) {
	sc := func(name, server string, annotations map[string]any) resource.PropertyMap {
		meta := map[string]any{"name": name}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
			"provisioner": "nfs.csi.k8s.io", "parameters": map[string]any{"server": server},
		})
	}
	base := sc("nfs", "nas", nil)
	state := ReadBack(TypeStorageClass, base, Env{Seed: "sc"})
	if uid := object(state, "metadata")["uid"]; !uid.IsString() {
		t.Fatal("the read-back has no uid: the case below tests nothing")
	}
	for _, c := range []struct {
		name             string
		news             resource.PropertyMap
		changed, replace bool
	}{
		{"unchanged", sc("nfs", "nas", nil), false, false},
		{"annotation", sc("nfs", "nas", map[string]any{"a": "b"}), true, false},
		{"server", sc("nfs", "other", nil), true, true},
		{"name", sc("nfs2", "nas", nil), true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := Diff(TypeStorageClass, Check(TypeStorageClass, base), state, c.news, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Empty() != c.changed || d.Replace != c.replace {
				t.Errorf("diff %+v, want changed %v replace %v", d, c.changed, c.replace)
			}
		})
	}
	rel := resource.NewPropertyMapFromMap(map[string]any{"name": "flannel", "namespace": "kube-flannel", "chart": "flannel", "version": "v1"})
	relState := ReadBack(TypeHelmRelease, rel, Env{})
	if st := object(relState, "status"); st["status"].StringValue() != "deployed" {
		t.Errorf("release status %v", st)
	}
	for _, c := range []struct {
		key              resource.PropertyKey
		value            string
		replace, changed bool
	}{{"version", "v2", false, true}, {"namespace", "other", true, true}, {"chart", "flannel", false, false}} {
		news := rel.Copy()
		news[c.key] = resource.NewStringProperty(c.value)
		d, err := Diff(TypeHelmRelease, rel, relState, news, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Replace != c.replace || d.Empty() == c.changed {
			t.Errorf("release %s=%s: %+v", c.key, c.value, d)
		}
	}
}

// TestRandomModel: defaults, alphabets, sensitivity and IDs as the random
// provider has them.
func TestRandomModel(t *testing.T) {
	str := resource.NewPropertyMapFromMap(map[string]any{"length": 16, "upper": false, "special": false})
	st := ReadBack(TypeRandomString, str, Env{Seed: "s"})
	r := st["result"]
	if r.IsSecret() || !regexp.MustCompile(`^[a-z0-9]{16}$`).MatchString(r.StringValue()) {
		t.Errorf("RandomString result %v: want 16 plain [a-z0-9]", r)
	}
	if id, _ := ID(TypeRandomString, st); id != r.StringValue() {
		t.Errorf("RandomString ID %q, want its result", id)
	}
	if !st["numeric"].BoolValue() || !st["number"].BoolValue() || !st["lower"].BoolValue() || st["minLower"].NumberValue() != 0 {
		t.Errorf("defaults not filled: %v", st)
	}
	hex := resource.NewPropertyMapFromMap(map[string]any{"length": 64, "upper": false, "lower": false, "numeric": true, "special": true, "overrideSpecial": "abcdef"})
	pst := ReadBack(TypeRandomPassword, hex, Env{Seed: "p"})
	if !pst["result"].IsSecret() || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(pst["result"].SecretValue().Element.StringValue()) {
		t.Errorf("RandomPassword result %v: want a secret of 64 hex digits", pst["result"])
	}
	if id, _ := ID(TypeRandomPassword, pst); id != "none" {
		t.Errorf("RandomPassword ID %q, want none", id)
	}
	bst := ReadBack(TypeRandomBytes, resource.NewPropertyMapFromMap(map[string]any{"length": 32}), Env{Seed: "b"})
	if !bst["hex"].IsSecret() || !bst["base64"].IsSecret() {
		t.Error("RandomBytes outputs are not sensitive")
	}
	if id, _ := ID(TypeRandomBytes, bst); id != bst["base64"].SecretValue().Element.StringValue() {
		t.Errorf("RandomBytes ID %q, want its base64 (in plain text)", id)
	}
	if again := ReadBack(TypeRandomString, str, Env{Seed: "s"}); again["result"].StringValue() != r.StringValue() {
		t.Error("the model's random values are not deterministic")
	}
	if pre := ReadBack(TypeRandomString, str, Env{Seed: "s", Preview: true}); pre.HasValue("result") {
		t.Error("a preview knows the result of a new RandomString")
	}
	news := str.Copy()
	news["length"] = resource.NewNumberProperty(12)
	if d, _ := Diff(TypeRandomString, Check(TypeRandomString, str), st, news, nil); !d.Replace {
		t.Errorf("a new length does not replace the string: %+v", d)
	}
	if d, _ := Diff(TypeRandomString, Check(TypeRandomString, str), st, str, nil); !d.Empty() {
		t.Errorf("the same inputs diff: %+v", d)
	}
}
