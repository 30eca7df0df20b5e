package inventory_test

import (
	"fmt"
	"log"

	"github.com/nixlab/nixlab/inventory"
)

// referenceLab is the reference homelab of Pulumi.lab.yaml: one control
// plane and two workers, in any order.
var referenceLab = []inventory.Node{
	{Name: "nixlab-workers-2", Role: inventory.RoleWorker, VMID: 9201, IPv4: "192.168.1.32"},
	{Name: "nixlab-control-plane-1", Role: inventory.RoleControlPlane, VMID: 9100, IPv4: "192.168.1.21"},
	{Name: "nixlab-workers-1", Role: inventory.RoleWorker, VMID: 9200, IPv4: "192.168.1.31"},
}

var labOptions = inventory.Options{User: "nixos", PrivateKeyFile: ".nixlab/lab/id_ed25519", KnownHostsFile: ".nixlab/lab/known_hosts"}

func ExampleINI() {
	ini, err := inventory.INI(referenceLab, labOptions)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(ini)
	// Output:
	// [control_plane]
	// nixlab-control-plane-1 ansible_host=192.168.1.21 nixlab_vm_id=9100 nixlab_role=control-plane
	//
	// [workers]
	// nixlab-workers-1 ansible_host=192.168.1.31 nixlab_vm_id=9200 nixlab_role=worker
	// nixlab-workers-2 ansible_host=192.168.1.32 nixlab_vm_id=9201 nixlab_role=worker
	//
	// [k8s_cluster:children]
	// control_plane
	// workers
	//
	// [k8s_cluster:vars]
	// ansible_user=nixos
	// ansible_ssh_private_key_file=.nixlab/lab/id_ed25519
	// ansible_ssh_common_args='-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.nixlab/lab/known_hosts'
	// ansible_python_interpreter=/run/current-system/sw/bin/python3
	//
	// [kube_control_plane]
	// nixlab-control-plane-1
	//
	// [etcd]
	// nixlab-control-plane-1
	//
	// [kube_node]
	// nixlab-workers-1
	// nixlab-workers-2
}

func ExampleYAML() {
	yaml, err := inventory.YAML(referenceLab, labOptions)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(yaml)
	// Output:
	// all:
	//   children:
	//     k8s_cluster:
	//       children:
	//         control_plane:
	//           hosts:
	//             nixlab-control-plane-1:
	//               ansible_host: 192.168.1.21
	//               nixlab_vm_id: 9100
	//               nixlab_role: control-plane
	//         workers:
	//           hosts:
	//             nixlab-workers-1:
	//               ansible_host: 192.168.1.31
	//               nixlab_vm_id: 9200
	//               nixlab_role: worker
	//             nixlab-workers-2:
	//               ansible_host: 192.168.1.32
	//               nixlab_vm_id: 9201
	//               nixlab_role: worker
	//       vars:
	//         ansible_user: nixos
	//         ansible_ssh_private_key_file: .nixlab/lab/id_ed25519
	//         ansible_ssh_common_args: "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.nixlab/lab/known_hosts"
	//         ansible_python_interpreter: /run/current-system/sw/bin/python3
	//     kube_control_plane:
	//       hosts:
	//         nixlab-control-plane-1:
	//     etcd:
	//       hosts:
	//         nixlab-control-plane-1:
	//     kube_node:
	//       hosts:
	//         nixlab-workers-1:
	//         nixlab-workers-2:
}

// The Kubespray flavour defines each host once under [all] and lists it by
// name in Kubespray's groups.
func ExampleRender_kubespray() {
	ini, err := inventory.Render(referenceLab, labOptions, inventory.FlavorKubespray, inventory.FormatINI)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(ini)
	// Output:
	// [all]
	// nixlab-control-plane-1 ansible_host=192.168.1.21 ip=192.168.1.21 access_ip=192.168.1.21 nixlab_vm_id=9100 nixlab_role=control-plane
	// nixlab-workers-1 ansible_host=192.168.1.31 ip=192.168.1.31 access_ip=192.168.1.31 nixlab_vm_id=9200 nixlab_role=worker
	// nixlab-workers-2 ansible_host=192.168.1.32 ip=192.168.1.32 access_ip=192.168.1.32 nixlab_vm_id=9201 nixlab_role=worker
	//
	// [kube_control_plane]
	// nixlab-control-plane-1
	//
	// [etcd]
	// nixlab-control-plane-1
	//
	// [kube_node]
	// nixlab-workers-1
	// nixlab-workers-2
	//
	// [k8s_cluster:children]
	// kube_control_plane
	// kube_node
	//
	// [k8s_cluster:vars]
	// ansible_user=nixos
	// ansible_ssh_private_key_file=.nixlab/lab/id_ed25519
	// ansible_ssh_common_args='-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.nixlab/lab/known_hosts'
	// ansible_python_interpreter=/run/current-system/sw/bin/python3
}

// Validation reports every problem at once, naming the node and field.
func ExampleRender_validation() {
	_, err := inventory.Render([]inventory.Node{
		{Name: "nixlab-workers-1", Role: "minion", VMID: 9200, IPv4: "192.168.1.31/24"},
	}, inventory.Options{}, inventory.FlavorNixlab, inventory.FormatINI)
	fmt.Println(err)
	// Output:
	// inventory: Options.User (ansible_user) is empty
	// inventory: nodes[0] ("nixlab-workers-1"): unknown Role "minion" (want "control-plane" or "worker")
	// inventory: nodes[0] ("nixlab-workers-1"): IPv4 "192.168.1.31/24" must be an address without prefix length
}
