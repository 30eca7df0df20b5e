package kubeadm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// decodeCheck decodes every document of CheckManifests strictly into its
// k8s.io/api type and returns them in order.
func decodeCheck(t *testing.T, b []byte) []any {
	t.Helper()
	var out []any
	for _, doc := range splitDocuments(t, b) {
		var obj any
		switch kind := decodeMap(t, doc)["kind"]; kind {
		case "Namespace":
			obj = &corev1.Namespace{}
		case "Pod":
			obj = &corev1.Pod{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		default:
			t.Fatalf("unexpected kind %v", kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("strict decode: %v\n%s", err, doc)
		}
		out = append(out, obj)
	}
	return out
}

func TestCheckManifests(t *testing.T) {
	cases := []struct {
		name         string
		storageClass string
		wantKinds    string
	}{
		{"dns only", "", "Namespace Pod"},
		{"with nfs storage", "nfs", "Namespace Pod PersistentVolumeClaim Pod"},
		{"custom class", "nas-fast", "Namespace Pod PersistentVolumeClaim Pod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := CheckManifests(tc.storageClass)
			if err != nil {
				t.Fatal(err)
			}
			objs := decodeCheck(t, b)
			var kinds []string
			for _, o := range objs {
				switch v := o.(type) {
				case *corev1.Namespace:
					kinds = append(kinds, v.Kind)
					if v.Name != CheckNamespace {
						t.Errorf("namespace %q", v.Name)
					}
				case *corev1.PersistentVolumeClaim:
					kinds = append(kinds, v.Kind)
					checkPVC(t, v, tc.storageClass)
				case *corev1.Pod:
					kinds = append(kinds, v.Kind)
					checkCheckPod(t, v)
				}
			}
			if got := strings.Join(kinds, " "); got != tc.wantKinds {
				t.Errorf("kinds = %s, want %s (namespace first, claim before its pod)", got, tc.wantKinds)
			}
		})
	}
}

func checkPVC(t *testing.T, pvc *corev1.PersistentVolumeClaim, class string) {
	t.Helper()
	if pvc.Name != CheckPVC || pvc.Namespace != CheckNamespace {
		t.Errorf("claim %s/%s", pvc.Namespace, pvc.Name)
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != class {
		t.Errorf("storageClassName = %v, want %s", pvc.Spec.StorageClassName, class)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("accessModes = %v, want [ReadWriteMany]", pvc.Spec.AccessModes)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("1Mi")) != 0 {
		t.Errorf("storage request = %s, want 1Mi", got.String())
	}
}

func checkCheckPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if pod.Namespace != CheckNamespace {
		t.Errorf("pod %s in namespace %q", pod.Name, pod.Namespace)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod %s restartPolicy %q: a check must run once", pod.Name, pod.Spec.RestartPolicy)
	}
	c := pod.Spec.Containers[0]
	if c.Image != CheckImage || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
		t.Errorf("pod %s image %q is not pinned", pod.Name, c.Image)
	}
	cmd := strings.Join(c.Command, " ")
	switch pod.Name {
	case CheckDNSPod:
		if !strings.HasPrefix(cmd, "sh -c ") || !strings.Contains(cmd, "nslookup -type=a kubernetes.default.svc.cluster.local. && exit 0") || !strings.HasSuffix(cmd, "exit 1") {
			t.Errorf("dns pod command %q", cmd)
		}
	case CheckStoragePod:
		if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].PersistentVolumeClaim == nil || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != CheckPVC {
			t.Fatalf("storage pod volumes = %+v, want the claim %s", pod.Spec.Volumes, CheckPVC)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/data" || c.VolumeMounts[0].Name != pod.Spec.Volumes[0].Name {
			t.Errorf("storage pod mounts = %+v", c.VolumeMounts)
		}
		if !strings.Contains(cmd, "> "+checkFile) || !strings.Contains(cmd, "cat "+checkFile) || !strings.Contains(cmd, "set -e") {
			t.Errorf("storage pod must write, read back and fail on a mismatch: %q", cmd)
		}
	default:
		t.Errorf("unexpected pod %q", pod.Name)
	}
}

func TestCheckManifestsRejectsBadClass(t *testing.T) {
	if _, err := CheckManifests("NFS_Class"); err == nil || !strings.Contains(err.Error(), "nixlab:kubernetes.storage.className") {
		t.Errorf("error %v, want one naming nixlab:kubernetes.storage.className", err)
	}
}

// TestStorageCheckScript runs the storage pod's shell script with a POSIX
// sh on a local directory standing in for the claim: it succeeds when the
// file can be written and read back, and fails when the volume is not
// writable.
func TestStorageCheckScript(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	b, err := CheckManifests("nfs")
	if err != nil {
		t.Fatal(err)
	}
	var script string
	for _, o := range decodeCheck(t, b) {
		if p, ok := o.(*corev1.Pod); ok && p.Name == CheckStoragePod {
			script = p.Spec.Containers[0].Command[2]
		}
	}
	if script == "" {
		t.Fatal("no storage pod")
	}
	run := func(dir string) error {
		return exec.Command(sh, "-c", strings.ReplaceAll(script, "/data/", dir+"/")).Run()
	}
	dir := t.TempDir()
	if err := run(dir); err != nil {
		t.Fatalf("script failed on a writable volume: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "nixlab-check")); err != nil || string(got) != "nixlab\n" {
		t.Errorf("file = %q, %v", got, err)
	}
	if err := run(filepath.Join(dir, "missing")); err == nil {
		t.Error("script succeeded although the volume could not be written")
	}
}

// TestDNSCheckScript runs the dns pod's script with sh against a fake
// nslookup (busybox's: exit 0 with an answer, 1 on "No answer" or
// "can't resolve") and an instant sleep: it succeeds as soon as one lookup
// answers, and fails after its tries when none does.
func TestDNSCheckScript(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	b, err := CheckManifests("")
	if err != nil {
		t.Fatal(err)
	}
	var script string
	for _, o := range decodeCheck(t, b) {
		if p, ok := o.(*corev1.Pod); ok && p.Name == CheckDNSPod {
			script = p.Spec.Containers[0].Command[2]
		}
	}
	if script == "" {
		t.Fatal("no dns pod")
	}
	for _, c := range []struct {
		name      string
		failFirst int // lookups that fail before one answers
		wantOK    bool
		wantCalls int
	}{
		{"answers at once", 0, true, 1},
		{"answers on the third try", 2, true, 3},
		{"never answers", 100, false, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			fake := `#!/bin/sh
echo "$*" >> "` + calls + `"
n=$(wc -l < "` + calls + `")
[ "$n" -gt ` + fmt.Sprint(c.failFirst) + ` ] || { echo "*** Can't find kubernetes.default.svc.cluster.local.: No answer"; exit 1; }
echo "Name: kubernetes.default.svc.cluster.local"; echo "Address: 10.96.0.1"
`
			if err := os.WriteFile(filepath.Join(dir, "nslookup"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "sleep"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(sh, "-c", script)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			err := cmd.Run()
			if (err == nil) != c.wantOK {
				t.Errorf("exit error %v, want success %v", err, c.wantOK)
			}
			got, _ := os.ReadFile(calls)
			lines := strings.Split(strings.TrimSpace(string(got)), "\n")
			if len(lines) != c.wantCalls {
				t.Errorf("%d lookups, want %d", len(lines), c.wantCalls)
			}
			if lines[0] != "-type=a kubernetes.default.svc.cluster.local." {
				t.Errorf("lookup args %q: want A records of the fully qualified name", lines[0])
			}
		})
	}
}
