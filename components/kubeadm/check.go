package kubeadm

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Names of the cluster-check objects (kube-check.sh waits for them by
// name and deletes CheckNamespace at the end).
const (
	CheckNamespace  = "nixlab-check"
	CheckDNSPod     = "dns"
	CheckPVC        = "data"
	CheckStoragePod = "storage"
)

// CheckImage is the pinned image of the check pods (busybox's nslookup, sh,
// cat).
const CheckImage = "docker.io/library/busybox:1.37.0"

// dnsCheckScript asks CoreDNS for the API server's Service, up to 6 times
// 5 s apart (CoreDNS may still be starting when the pod runs). A records
// only and a fully qualified name: busybox's nslookup reports "No answer"
// for a missing AAAA record and walks the search list for a name with
// fewer than ndots (5) dots (docker-library/busybox#48, #61).
const dnsCheckScript = `for i in 1 2 3 4 5 6; do nslookup -type=a kubernetes.default.svc.` + ClusterDomain + `. && exit 0; sleep 5; done; exit 1`

// checkFile is the file the storage pod writes and reads back on the PVC.
const checkFile = "/data/nixlab-check"

// CheckManifests renders the objects kube-check.sh applies with `kubectl
// apply -f -`, as multi-document YAML of k8s.io/api types:
//
//   - Namespace nixlab-check;
//   - Pod "dns": `nslookup -type=a kubernetes.default.svc.cluster.local.`
//     (a few tries, restartPolicy Never): Succeeded means CoreDNS answers
//     through the pod network and the service CIDR;
//   - when storageClass != "": PVC "data" (1Mi, ReadWriteMany, which NFS
//     and csi-driver-nfs support) on that class, and Pod "storage" that
//     mounts it at /data, writes a file, reads it back and compares.
//     Succeeded means the claim was bound, mounted and writable.
//
// Every pod runs once, without a service account token, and stops at once
// on delete.
func CheckManifests(storageClass string) ([]byte, error) {
	objs := []any{
		&corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: CheckNamespace},
		},
		checkPod(CheckDNSPod, []string{"sh", "-c", dnsCheckScript}, nil),
	}
	if storageClass != "" {
		if errs := validation.IsDNS1123Subdomain(storageClass); len(errs) > 0 {
			return nil, fmt.Errorf("nixlab:kubernetes.storage.className %q is not a DNS-1123 subdomain (%s)", storageClass, errs[0])
		}
		class := storageClass
		objs = append(objs, &corev1.PersistentVolumeClaim{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: metav1.ObjectMeta{Name: CheckPVC, Namespace: CheckNamespace},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
				StorageClassName: &class,
				Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")},
				},
			},
		})
		script := fmt.Sprintf(`set -e; echo nixlab > %[1]s; test "$(cat %[1]s)" = nixlab; echo "read back %[1]s"`, checkFile)
		objs = append(objs, checkPod(CheckStoragePod, []string{"sh", "-c", script}, &corev1.Volume{
			Name: "data",
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: CheckPVC,
			}},
		}))
	}
	return marshalDocuments(objs...)
}

// checkPod is a run-once busybox pod in the check namespace, with vol
// mounted at /data when not nil.
func checkPod(name string, command []string, vol *corev1.Volume) *corev1.Pod {
	noToken := false
	grace := int64(0)
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: CheckNamespace},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  &noToken,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:            name,
				Image:           CheckImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         command,
			}},
		},
	}
	if vol != nil {
		pod.Spec.Volumes = []corev1.Volume{*vol}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{
			Name:      vol.Name,
			MountPath: checkFile[:strings.LastIndex(checkFile, "/")],
		}}
	}
	return pod
}
