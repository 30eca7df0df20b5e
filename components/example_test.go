package components_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/components"
)

// ExampleNewK8sNodeGroup uses the components directly from another Pulumi Go
// program: a NixOS template with NFS, then three workers cloned from it.
// Here the program runs under Pulumi mocks; in your own program, pass it to
// pulumi.Run.
func ExampleNewK8sNodeGroup() {
	program := func(ctx *pulumi.Context) error {
		provider, err := proxmoxve.NewProvider(ctx, "pve", &proxmoxve.ProviderArgs{
			Endpoint: pulumi.String("https://pve.lab.example:8006/"),
			ApiToken: pulumi.ToSecret(pulumi.String(os.Getenv("PROXMOX_VE_API_TOKEN"))).(pulumi.StringOutput),
		})
		if err != nil {
			return err
		}
		key, err := tls.NewPrivateKey(ctx, "ssh", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")})
		if err != nil {
			return err
		}
		template, err := components.NewNixOSTemplate(ctx, "template", &components.NixOSTemplateArgs{
			NodeName:       pulumi.String("pve"),
			VMID:           9000,
			InstallTimeout: 45 * time.Minute,
			Settings: components.NodeSettings{
				AdminUser:  "ops",
				Timezone:   "Europe/Berlin",
				SwapSizeGB: 0,
				NFS: &components.NFSSettings{
					Server: "nas.lab.example", Export: "/export/k8s", MountPoint: "/mnt/nfs",
					Options: []string{"nfsvers=4.1", "hard"},
				},
			},
			StateDir: os.TempDir() + "/nixlab-example",
			// The host's key, as `ssh-keyscan -t ed25519 pve.lab.example` prints it;
			// without it the template records the key on first contact
			// (components.PinProxmoxHostKey).
			Host: components.ProxmoxHost{Address: "pve.lab.example",
				HostKey: pulumi.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJzbjOvVYvdEcAUy1V5RRl0HI9Fhrj7uu9gCwM+0bUFN")},
		}, pulumi.Provider(provider))
		if err != nil {
			return err
		}
		workers, err := components.NewK8sNodeGroup(ctx, "workers", &components.K8sNodeGroupArgs{
			ClusterName:   "demo",
			Role:          components.RoleWorker,
			Count:         3,
			VMIDStart:     9300,
			Cores:         4,
			MemoryMB:      8192,
			DiskSizeGB:    40,
			NodeName:      pulumi.String("pve"),
			TemplateVMID:  template.VMID,
			Template:      template.Ready,
			AdminUser:     "ops",
			SSHPublicKeys: pulumi.StringArray{key.PublicKeyOpenssh},
			SSHPrivateKey: key.PrivateKeyOpenssh,
			Network:       components.NodeNetwork{CIDR: "10.0.20.0/24", Gateway: "10.0.20.1", HostOffset: 31},
			Readiness:     components.NodeReadiness{NFSMountPoint: "/mnt/nfs"},
		}, pulumi.Provider(provider))
		if err != nil {
			return err
		}
		for _, n := range workers.Nodes {
			n.IPv4.ApplyT(func(ip string) string {
				record(fmt.Sprintf("%s vm %d at %s", n.Name, n.VMID, ip))
				return ip
			})
		}
		return nil
	}

	os.Setenv("SSH_AUTH_SOCK", "/run/example-agent.sock") // nothing dials under mocks
	err := pulumi.RunErr(program, pulumi.WithMocks("example", "dev", exampleMocks{}))
	fmt.Println("error:", err)
	for _, line := range recorded() {
		fmt.Println(line)
	}
	// Output:
	// error: <nil>
	// demo-workers-1 vm 9300 at 10.0.20.31
	// demo-workers-2 vm 9301 at 10.0.20.32
	// demo-workers-3 vm 9302 at 10.0.20.33
}

// exampleMocks answers like the providers would after an update.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	out := args.Inputs.Copy()
	switch args.TypeToken {
	case "tls:index/privateKey:PrivateKey":
		out["publicKeyOpenssh"] = resource.NewProperty("ssh-ed25519 AAAAexample")
		out["privateKeyOpenssh"] = resource.MakeSecret(resource.NewProperty("private"))
	case "command:local:Command", "command:remote:Command":
		out["stdout"] = resource.NewProperty("ok")
		if strings.HasSuffix(args.Name, "-host-key") {
			// What ssh-keyscan prints for the Proxmox host.
			out["stdout"] = resource.NewProperty("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGduv1etVrsUTD70C0EJnwb4E9sTCQbcxa3of7ltWa0E\n")
		}
	}
	return args.Name + "-id", out, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

var (
	exampleMu    sync.Mutex
	exampleLines []string
)

func record(line string) {
	exampleMu.Lock()
	defer exampleMu.Unlock()
	exampleLines = append(exampleLines, line)
}

func recorded() []string {
	exampleMu.Lock()
	defer exampleMu.Unlock()
	sort.Strings(exampleLines)
	return exampleLines
}
