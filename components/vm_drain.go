package components

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// VMUpdateDrain drains Kubernetes nodes around the VM updates that make the
// Proxmox provider reboot them (RebootFields): node i's `<group>-<i>-drain`
// runs before its VM is updated, `<group>-<i>-uncordon` after its readiness
// check passed again, and the next node's drain waits for that uncordon.
//
// Both run scripts/vm-drain.sh ON THE PROXMOX HOST and reach the cluster
// through the qemu guest agent of a control-plane VM (`qm guest exec`): a
// step that runs before a VM's update may not use anything derived from
// that VM (its DHCP address, the kubeconfig), or the graph would have a
// cycle; VM IDs and the host connection are known without the VMs.
type VMUpdateDrain struct {
	// ControlPlaneVMIDs are the control planes' VM IDs in roll order:
	// kubectl runs in the first one that answers (not the node's own VM,
	// unless it is the only one).
	ControlPlaneVMIDs []int
	// Timeout bounds the drain (and the wait for Ready before the
	// uncordon); default 10 minutes.
	Timeout time.Duration
}

// check is part of K8sNodeGroupArgs.check, before anything is registered.
func (d VMUpdateDrain) check() error {
	if len(d.ControlPlaneVMIDs) == 0 {
		return errors.New("VMUpdateDrain: ControlPlaneVMIDs is empty: nowhere to run kubectl")
	}
	if d.Timeout != 0 && d.Timeout < time.Minute {
		return fmt.Errorf("VMUpdateDrain: Timeout %s: use a minute or more", d.Timeout)
	}
	return nil
}

// newVMDrain registers node n's drain ("drain", before its VM) or uncordon
// ("uncordon", after its readiness check) step. Both are replaced, and run,
// when the VM's reboot fields change (trigger, as rebootTrigger gives it):
// exactly when the provider will reboot the running VM. A node still to be
// cloned, or not in the cluster, has nothing to drain (the script says so).
// The args were checked and defaulted with the group's.
func (b *groupBuilder) newVMDrain(n *Node, action string, trigger pulumi.Map, after pulumi.Resource) (*remote.Command, error) {
	d := b.a.VMUpdateDrain
	args := []string{action, n.Name, strconv.Itoa(n.VMID), seconds(d.Timeout)}
	for _, id := range d.ControlPlaneVMIDs {
		args = append(args, strconv.Itoa(id))
	}
	opts := []pulumi.ResourceOption{pulumi.Parent(b.g)}
	if after != nil {
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{after}))
	}
	return remote.NewCommand(b.ctx, n.resourceName+"-"+action, &remote.CommandArgs{
		Connection: b.hostConn,
		Create:     pulumi.String(scriptCommand("vm-drain.sh", args...)),
		Update:     pulumi.String(noOpUpdate),
		Triggers:   pulumi.Array{trigger},
		Logging:    remote.LoggingStdoutAndStderr,
	}, opts...)
}
