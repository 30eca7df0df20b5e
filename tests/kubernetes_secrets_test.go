package tests

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/components/kubeadm"
	"github.com/nixlab/nixlab/stack"
)

// TestKubernetesSecretsNeverPlain: the token secret, the certificate key,
// the kubeconfig and the kubeadm configs that carry them are secrets
// everywhere nixlab puts them: every resource's inputs and state, every
// resource ID, every command line, the component's and the stack's
// outputs. The mocks add no secrecy beyond the providers' schemas and the
// engine's additionalSecretOutputs.
func TestKubernetesSecretsNeverPlain(t *testing.T) {
	var outs map[string]pulumi.Input
	var lab *stack.Lab
	var ctxOuts = map[string]bool{} // output name -> secret
	rec, err := runMocked(t, haConfig(t, ""), false, withLab(func(ctx *pulumi.Context, cfg *stack.Config, l *stack.Lab) error {
		lab = l
		outs = stack.Outputs(ctx, cfg, l)
		for _, name := range []string{stack.OutputKubeconfig, stack.OutputKubernetesEndpoint} {
			v, err := await(ctx, outs[name].(pulumi.Output))
			if err != nil {
				return err
			}
			ctxOuts[name] = v.Secret
		}
		v, err := await(ctx, l.Kubernetes.Kubeconfig)
		if err != nil {
			return err
		}
		ctxOuts["component kubeconfig"] = v.Secret
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if lab.Kubernetes == nil {
		t.Fatal("no cluster deployed")
	}
	if !ctxOuts[stack.OutputKubeconfig] || !ctxOuts["component kubeconfig"] {
		t.Errorf("the kubeconfig is exported in plain text: %v", ctxOuts)
	}
	if ctxOuts[stack.OutputKubernetesEndpoint] {
		t.Errorf("%s is secret; it is an address", stack.OutputKubernetesEndpoint)
	}

	states := rec.stateSnapshot()
	tokenSecret := stringState(t, states["kube-token-secret"], "result")
	certKey := stringState(t, states["kube-certificate-key"], "result")
	tokenID := stringState(t, states["kube-token-id"], "result")
	if err := kubeadm.CheckToken(tokenID + "." + tokenSecret); err != nil {
		t.Errorf("generated token: %v", err)
	}
	if err := kubeadm.CheckCertificateKey(certKey); err != nil {
		t.Errorf("generated certificate key: %v", err)
	}
	secrets := map[string]string{"token secret": tokenSecret, "certificate key": certKey, "kubeconfig client key": mockClientKey}

	for name, st := range states {
		reg := rec.regs[name]
		for what, s := range secrets {
			if strings.Contains(st.ID, s) {
				t.Errorf("%s: the resource ID (always plain) holds the %s", name, what)
			}
			for _, where := range []struct {
				kind  string
				props resource.PropertyMap
			}{{"inputs", reg.Inputs}, {"state", st.State}} {
				for _, p := range plainStrings(resource.NewObjectProperty(where.props)) {
					if strings.Contains(p, s) {
						t.Errorf("%s: the %s is plain in its %s", name, what, where.kind)
					}
				}
			}
		}
	}

	// The steps that carry a secret take it on stdin, as a secret, and
	// their command lines hold none.
	for _, name := range []string{kubeInitLab, "control-plane-2-kube-prepare", "control-plane-2-kube-join", "workers-1-kube-join"} {
		in := rec.get(t, name).Inputs
		stdin := in["stdin"]
		if !stdin.IsSecret() {
			t.Errorf("%s: stdin is not a secret", name)
			continue
		}
		text := stdin.SecretValue().Element.StringValue()
		if !strings.Contains(text, tokenSecret) {
			t.Errorf("%s: stdin does not carry the token", name)
		}
		if name != "workers-1-kube-join" && !strings.Contains(text, certKey) {
			t.Errorf("%s: stdin does not carry the certificate key", name)
		}
		for _, k := range []string{"create", "delete"} {
			if v := in[resource.PropertyKey(k)]; v.IsSecret() {
				t.Errorf("%s: %s is secret; a command line must be plain and hold no secret", name, k)
			}
		}
	}
	// The join carries the CA hash kube-init printed.
	hash := strings.TrimSpace(stringState(t, states[kubeInitLab], "stdout"))
	if join := rec.get(t, "workers-1-kube-join").Inputs["stdin"].SecretValue().Element.StringValue(); !strings.Contains(join, hash) {
		t.Errorf("the worker's JoinConfiguration does not pin the CA hash %s", hash)
	}
	// The kubeconfig: never logged, stored as a secret, fed to the
	// provider as a secret.
	kc := rec.get(t, kubeconfigStep)
	if l := kc.Inputs["logging"]; l.StringValue() != "none" {
		t.Errorf("kube-kubeconfig logs %v", l)
	}
	if out := states[kubeconfigStep].State["stdout"]; !out.IsSecret() {
		t.Error("kube-kubeconfig's stdout is stored in plain text")
	}
	if k := rec.get(t, kubeProvider).Inputs["kubeconfig"]; !k.IsSecret() {
		t.Error("the provider's kubeconfig is not a secret")
	}
}

// TestStorageClassDecodesStrictly: the StorageClass nixlab registers is a
// valid k8s.io/api storage/v1 StorageClass (strict decoding: no unknown
// field), with the export, the delete policy, the mount options and the
// default-class annotation.
func TestStorageClassDecodesStrictly(t *testing.T) {
	rec, err := runMocked(t, labConfig(t, map[string]string{
		"nixlab:nfs":        `{"server":"192.168.1.4","export":"/volume1/k8s","mountPoint":"/mnt/nfs","options":["nfsvers=4.1","hard"]}`,
		"nixlab:kubernetes": `{"storage":{"className":"nas","subDir":"${pvc.metadata.namespace}/${pvc.metadata.name}","onDelete":"archive"}}`,
	}), false, stack.Program)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(rec.get(t, "kube-storage-class").Inputs.Mappable())
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var sc storagev1.StorageClass
	if err := dec.Decode(&sc); err != nil {
		t.Fatalf("the StorageClass does not decode strictly into storage/v1: %v\n%s", err, raw)
	}
	if sc.APIVersion != "storage.k8s.io/v1" || sc.Kind != "StorageClass" || sc.Name != "nas" {
		t.Errorf("apiVersion %s kind %s name %s", sc.APIVersion, sc.Kind, sc.Name)
	}
	if sc.Provisioner != components.CSIDriverNFSProvisioner {
		t.Errorf("provisioner %s", sc.Provisioner)
	}
	want := map[string]string{"server": "192.168.1.4", "share": "/volume1/k8s",
		"subDir": "${pvc.metadata.namespace}/${pvc.metadata.name}", "onDelete": "archive"}
	for k, v := range want {
		if sc.Parameters[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, sc.Parameters[k], v)
		}
	}
	if len(sc.Parameters) != len(want) {
		t.Errorf("parameters %v, want %v", sc.Parameters, want)
	}
	if strings.Join(sc.MountOptions, ",") != "nfsvers=4.1,hard" {
		t.Errorf("mountOptions %v", sc.MountOptions)
	}
	if sc.ReclaimPolicy == nil || *sc.ReclaimPolicy != "Delete" || sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("reclaimPolicy %v volumeBindingMode %v", sc.ReclaimPolicy, sc.VolumeBindingMode)
	}
	if sc.Annotations[components.DefaultClassAnnotation] != "true" {
		t.Errorf("annotations %v: not the default class", sc.Annotations)
	}
}
