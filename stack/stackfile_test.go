package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// labKeys are Pulumi.lab.yaml's settings as YAML flow values, by key as
// written in the stack file; cases replace or remove them.
var labKeys = map[string]string{
	"nixlab:clusterName": "nixlab",
	"nixlab:apiToken":    testToken,
	"nixlab:proxmox":     "{endpoint: 'https://192.168.1.5:8006/', insecure: true, node: pve, ssh: {host: 192.168.1.5}}",
	"nixlab:template":    "{vmId: 9000, diskSizeGb: 20}",
	"nixlab:nfs":         "{server: 192.168.1.4, export: /volume1/k8s-cluster-storage, mountPoint: /mnt/nfs}",
	"nixlab:network":     "{mode: dhcp}",
	"nixlab:adminUser":   "nixos",
	"nixlab:nodeGroups":  "{control-plane: {role: control-plane, count: 1, vmIdStart: 9100}, workers: {role: worker, count: 2, vmIdStart: 9200}}",
	// A DNS endpoint, so that cases with several control planes are
	// about what they test, not about the endpoint they would need.
	"nixlab:kubernetes": "{controlPlaneEndpoint: k8s.lab.example}",
}

// stackYAML renders a stack file: the lab with overrides ("" removes a key;
// a key may be written without its namespace or twice over).
func stackYAML(overrides map[string]string) string {
	keys := map[string]string{}
	for k, v := range labKeys {
		keys[k] = v
	}
	for k, v := range overrides {
		if v == "" {
			delete(keys, k)
			continue
		}
		keys[k] = v
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("config:\n")
	for _, k := range names {
		v := keys[k]
		if v == "<null>" {
			b.WriteString("  " + k + ":\n")
			continue
		}
		b.WriteString("  " + k + ": " + v + "\n")
	}
	return b.String()
}

// projectDir is a project directory with the real Pulumi.yaml and the
// stack file Pulumi.t.yaml holding text.
func projectDir(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	proj, err := os.ReadFile(filepath.Join("..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "Pulumi.yaml"), string(proj))
	write(t, filepath.Join(dir, "Pulumi.t.yaml"), text)
	return dir
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// planRead is the plan's reading path: the stack file through stack/ code.
func planRead(dir string) (*Config, error) {
	sf, err := ReadStackConfig(dir, "t")
	if err != nil {
		return nil, err
	}
	return ParseStackFile(sf, dir)
}

// cliConfig is the config the Pulumi CLI hands the program for stack t:
// the SDK's own stack loader (workspace.LoadProjectStack), values as
// Map.Decrypt gives them, declared defaults for absent keys. ok is false
// when the CLI refuses the file before any program runs.
func cliConfig(t *testing.T, dir string) (map[string]string, bool) {
	t.Helper()
	proj, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := workspace.LoadProjectStack(nil, proj, filepath.Join(dir, "Pulumi.t.yaml"))
	if err != nil {
		return nil, false
	}
	m, err := ps.Config.Decrypt(config.NopDecrypter)
	if err != nil {
		return nil, false
	}
	out := map[string]string{}
	for k, v := range m {
		out[k.String()] = v
	}
	for name, decl := range proj.Config {
		key := Namespace + ":" + name
		if _, set := out[key]; set || decl.Default == nil {
			continue
		}
		if s, ok := decl.Default.(string); ok {
			out[key] = s
			continue
		}
		b, err := json.Marshal(decl.Default)
		if err != nil {
			t.Fatal(err)
		}
		out[key] = string(b)
	}
	return out, true
}

// upRead is the `pulumi up` path: LoadConfigIn inside a program run under
// mocks with the CLI's config (and PULUMI_CONFIG, which the CLI sets).
func upRead(t *testing.T, dir string, values map[string]string) (*Config, error) {
	t.Helper()
	all, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PULUMI_CONFIG", string(all))
	var cfg *Config
	var loadErr error
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, loadErr = LoadConfigIn(ctx, dir)
		return nil
	}, pulumi.WithMocks("nixlab", "t", noResources{}), func(ri *pulumi.RunInfo) {
		ri.Config = values
		ri.ConfigSecretKeys = []string{Namespace + ":apiToken"}
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, loadErr
}

// noResources is a mock engine for programs that register nothing.
type noResources struct{}

func (noResources) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return args.Name, args.Inputs, nil
}

func (noResources) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// internals are texts that only Go or JSON would say.
var internals = []string{"interface {}", "+Inf", "invalid character", "json:", "Go struct", "map[", "unmarshal", "<nil>", "null"}

type fileCase struct {
	name      string
	overrides map[string]string
	key       string // "" for a valid file
	fix       string
	secret    string // must appear in no message
	// fileLevel: plan refuses the file itself; the CLI either refuses it
	// too (.inf) or silently keeps one of two values (a key set twice),
	// so only the plan's reading is checked.
	fileLevel bool
	// typeLevel: the CLI refuses the value by Pulumi.yaml's declared
	// type before the program runs; the program would refuse it too.
	typeLevel bool
	// check, for a valid file, returns what is wrong with the config read.
	check func(*Config) string
}

func clusterNameIs(want string) func(*Config) string {
	return func(c *Config) string {
		if c.ClusterName != want {
			return "clusterName " + c.ClusterName + ", want " + want
		}
		return ""
	}
}

func TestStackFilesReadAlikeByPlanAndUp(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "a-file")
	write(t, stateFile, "not a directory")
	const privateBody = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"
	cases := []fileCase{
		{name: "lab as is"},
		// An explicit 0 or "" is refused, not replaced by the default.
		{name: "template vmId 0", overrides: map[string]string{"nixlab:template": "{vmId: 0}"}, key: "nixlab:template.vmId", fix: "remove the key to use the default (9000)"},
		{name: "group cores 0", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 1, vmIdStart: 9100, cores: 0}}"}, key: "nixlab:nodeGroups.cp.cores", fix: "use 1 to 128"},
		{name: "ssh port 0", overrides: map[string]string{"nixlab:proxmox": "{endpoint: 'https://h:8006/', node: pve, ssh: {port: 0}}"}, key: "nixlab:proxmox.ssh.port", fix: "default (22)"},
		{name: "empty cluster name", overrides: map[string]string{"nixlab:clusterName": "''"}, key: "nixlab:clusterName", fix: "default (nixlab)"},
		{name: "empty YAML value", overrides: map[string]string{"nixlab:clusterName": "<null>"}, key: "nixlab:clusterName", fix: "is empty"},
		{name: "empty nested value", overrides: map[string]string{"nixlab:template": "{vmId: }"}, key: "nixlab:template.vmId", fix: "has no value", typeLevel: false},
		{name: "empty object key", overrides: map[string]string{"nixlab:template": "<null>"}, key: "nixlab:template", fix: "mapping", typeLevel: true},
		{name: "empty mount point", overrides: map[string]string{"nixlab:nfs": "{server: nas, export: /v, mountPoint: ''}"}, key: "nixlab:nfs.mountPoint", fix: "default (/mnt/nfs)"},
		// Unprefixed keys are the project's, as the CLI reads them.
		{name: "unprefixed cluster name", overrides: map[string]string{"nixlab:clusterName": "", "clusterName": "prod"}, check: clusterNameIs("prod")},
		{name: "old config: form", overrides: map[string]string{"nixlab:clusterName": "", "nixlab:config:clusterName": "prod"}, check: clusterNameIs("prod")},
		{name: "absent cluster name takes the default", overrides: map[string]string{"nixlab:clusterName": ""}, check: clusterNameIs(DefaultClusterName)},
		{name: "unprefixed bad value", overrides: map[string]string{"nixlab:clusterName": "", "clusterName": "Prod_Lab"}, key: "nixlab:clusterName", fix: "lower-case"},
		{name: "key set twice", overrides: map[string]string{"clusterName": "prod"}, key: "nixlab:clusterName is set twice", fix: "keep one", fileLevel: true},
		{name: "unprefixed typo", overrides: map[string]string{"nodeGroup": "{}"}, key: "nixlab:nodeGroup", fix: "did you mean nixlab:nodeGroups?"},
		// Bounds.
		{name: "count 100000", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 100000, vmIdStart: 9100}}"}, key: "nixlab:nodeGroups.cp.count", fix: "use 0 to 100"},
		{name: "count at the bound", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 100, vmIdStart: 10000}}"}},
		{name: "count past the bound in all", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 60, vmIdStart: 10000}, w: {role: worker, count: 41, vmIdStart: 20000}}"}, key: "nixlab:nodeGroups", fix: "at most 100"},
		{name: "template disk 4096 (GPT)", overrides: map[string]string{"nixlab:template": "{diskSizeGb: 4096}", "nixlab:nodeGroups": "{cp: {role: control-plane, count: 1, vmIdStart: 9100, diskSizeGb: 4096}}"}},
		{name: "node disk at the bound", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 1, vmIdStart: 9100, diskSizeGb: 65536}}"}},
		{name: "node disk past the bound", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 1, vmIdStart: 9100, diskSizeGb: 65537}}"}, key: "nixlab:nodeGroups.cp.diskSizeGb", fix: "use 8 to 65536"},
		{name: "node disk below the template's", overrides: map[string]string{"nixlab:template": "{diskSizeGb: 4096}", "nixlab:nodeGroups": "{cp: {role: control-plane, count: 1, vmIdStart: 9100, diskSizeGb: 4095}}"}, key: "nixlab:nodeGroups.cp.diskSizeGb", fix: "can only grow"},
		// Secrets are never echoed.
		{name: "password in the endpoint", overrides: map[string]string{"nixlab:proxmox": "{endpoint: 'https://root:hunter2@192.168.1.5:8006/', node: pve}"}, key: "nixlab:proxmox.endpoint", fix: "nixlab:apiToken", secret: "hunter2"},
		{name: "private key as key file", overrides: map[string]string{"nixlab:proxmox": "{endpoint: 'https://h:8006/', node: pve, ssh: {privateKeyFile: \"-----BEGIN OPENSSH PRIVATE KEY-----\\n" + privateBody + "\\n-----END OPENSSH PRIVATE KEY-----\\n\"}}"}, key: "nixlab:proxmox.ssh.privateKeyFile", fix: "save the key in a file", secret: privateBody},
		{name: "token in the endpoint query", overrides: endpoint("http://192.168.1.5:8006/?token=hunter2"), key: "nixlab:proxmox.endpoint", fix: "not printed", secret: "hunter2"},
		{name: "private key as host key", overrides: map[string]string{"nixlab:proxmox": "{endpoint: 'https://h:8006/', node: pve, ssh: {hostKey: \"-----BEGIN OPENSSH PRIVATE KEY-----\\n" + privateBody + "\\n-----END OPENSSH PRIVATE KEY-----\"}}"}, key: "nixlab:proxmox.ssh.hostKey", fix: "private key", secret: privateBody},
		{name: "private key as authorized key", overrides: map[string]string{"nixlab:extraAuthorizedKeys": "[\"-----BEGIN OPENSSH PRIVATE KEY----- " + privateBody + "\"]"}, key: "nixlab:extraAuthorizedKeys[0]", fix: "private key", secret: privateBody},
		{name: "malformed token", overrides: map[string]string{"nixlab:apiToken": "root@pam!x=hunter2hunter2"}, key: "nixlab:apiToken", fix: "user@realm!tokenid=uuid", secret: "hunter2"},
		// Static network.
		{name: "gateway is the network address", overrides: static("192.168.1.0/24", "192.168.1.0", 21, 2), key: "nixlab:network.gateway", fix: "network address"},
		{name: "gateway is the broadcast address", overrides: static("192.168.1.0/24", "192.168.1.255", 21, 2), key: "nixlab:network.gateway", fix: "broadcast address"},
		{name: "a /31", overrides: static("192.168.1.0/31", "192.168.1.1", 1, 2), key: "nixlab:network.cidr", fix: "/30 or shorter"},
		{name: "a /32", overrides: static("192.168.1.7/32", "192.168.1.7", 1, 2), key: "nixlab:network.cidr", fix: "/30 or shorter"},
		{name: "a /30 fits one node", overrides: static("192.168.1.0/30", "192.168.1.1", 2, 1)},
		{name: "gateway at the group's last address", overrides: static("192.168.1.0/24", "192.168.1.22", 21, 2), key: "nixlab:nodeGroups.cp.hostOffset", fix: "include the gateway 192.168.1.22"},
		{name: "gateway one past the group's last address", overrides: static("192.168.1.0/24", "192.168.1.23", 21, 2)},
		{name: "group ends at the last host", overrides: static("192.168.1.0/24", "192.168.1.1", 253, 2)},
		{name: "group ends on the broadcast address", overrides: static("192.168.1.0/24", "192.168.1.1", 254, 2), key: "nixlab:nodeGroups.cp.hostOffset", fix: "usable hosts 1-254"},
		// Endpoint.
		{name: "endpoint with /api2/json", overrides: endpoint("https://192.168.1.5:8006/api2/json"), key: "nixlab:proxmox.endpoint", fix: "adds /api2/json itself"},
		{name: "endpoint port 65536", overrides: endpoint("https://192.168.1.5:65536/"), key: "nixlab:proxmox.endpoint", fix: "use 1 to 65535"},
		{name: "endpoint port 65535", overrides: endpoint("https://192.168.1.5:65535/")},
		{name: "endpoint with a fragment", overrides: endpoint("https://192.168.1.5:8006/#x"), key: "nixlab:proxmox.endpoint", fix: "fragment"},
		{name: "endpoint over http", overrides: endpoint("http://192.168.1.5:8006/"), key: "nixlab:proxmox.endpoint", fix: "https://"},
		{name: "endpoint IPv6", overrides: endpoint("https://[fd00::5]:8006")},
		// Local and node paths.
		{name: "state dir /", overrides: map[string]string{"nixlab:stateDir": "/"}, key: "nixlab:stateDir", fix: "system directory"},
		{name: "state dir /etc", overrides: map[string]string{"nixlab:stateDir": "/etc/"}, key: "nixlab:stateDir", fix: "system directory"},
		{name: "state dir is a file", overrides: map[string]string{"nixlab:stateDir": stateFile}, key: "nixlab:stateDir", fix: "existing file"},
		{name: "NFS over /opt", overrides: nfs("nas", "/v", "/opt"), key: "nixlab:nfs.mountPoint", fix: "would hide /opt/cni/bin"},
		{name: "NFS in /var", overrides: nfs("nas", "/v", "/var/lib/nfs"), key: "nixlab:nfs.mountPoint", fix: "inside the system directory /var"},
		{name: "NFS at /opt/nfs", overrides: nfs("nas", "/v", "/opt/nfs")},
		{name: "NFS IPv6 server", overrides: nfs("fd00::4", "/v", "/mnt/nfs")},
		{name: "NFS IPv6 server in brackets", overrides: nfs("'[fd00::4]'", "/v", "/mnt/nfs")},
		{name: "NFS bad IPv6 server", overrides: nfs("'fd00::4::5'", "/v", "/mnt/nfs"), key: "nixlab:nfs.server", fix: "IPv6"},
		{name: "NFS bad IPv4 server", overrides: nfs("192.168.1.256", "/v", "/mnt/nfs"), key: "nixlab:nfs.server", fix: "IPv4"},
		{name: "NFS export with ..", overrides: nfs("nas", "/v/../etc", "/mnt/nfs"), key: "nixlab:nfs.export", fix: "'..'"},
		// Names and keys.
		{name: "unknown time zone", overrides: map[string]string{"nixlab:timezone": "Mars/Olympus_Mons"}, key: "nixlab:timezone", fix: "Europe/Berlin"},
		{name: "known time zone", overrides: map[string]string{"nixlab:timezone": "America/Argentina/Buenos_Aires"}},
		{name: "Local is no zone", overrides: map[string]string{"nixlab:timezone": "Local"}, key: "nixlab:timezone", fix: "Europe/Berlin"},
		{name: "truncated public key", overrides: map[string]string{"nixlab:extraAuthorizedKeys": "['" + testEd25519Key[:60] + "']"}, key: "nixlab:extraAuthorizedKeys[0]", fix: "ssh-ed25519 AAAA"},
		{name: "public key of the wrong type", overrides: map[string]string{"nixlab:extraAuthorizedKeys": "['ssh-rsa" + testEd25519Key[len("ssh-ed25519"):] + "']"}, key: "nixlab:extraAuthorizedKeys[0]", fix: "ssh-ed25519 AAAA"},
		{name: "good public key", overrides: map[string]string{"nixlab:extraAuthorizedKeys": "['" + testEd25519Key + " me@lab']"}},
		{name: "admin nobody", overrides: map[string]string{"nixlab:adminUser": "nobody"}, key: "nixlab:adminUser", fix: "system account"},
		{name: "admin sshd", overrides: map[string]string{"nixlab:adminUser": "sshd"}, key: "nixlab:adminUser", fix: "system account"},
		{name: "admin nixbld7", overrides: map[string]string{"nixlab:adminUser": "nixbld7"}, key: "nixlab:adminUser", fix: "system account"},
		{name: "RSA host key", overrides: map[string]string{"nixlab:proxmox": "{endpoint: 'https://h:8006/', node: pve, ssh: {hostKey: '" + testRSAKey + "'}}"}, key: "nixlab:proxmox.ssh.hostKey", fix: "ssh-keyscan -t ed25519"},
		// Messages in the stack file's terms.
		{name: "string for a number", overrides: map[string]string{"nixlab:template": "{vmId: abc}"}, key: "nixlab:template.vmId", fix: "expected a number, got a string"},
		{name: "fraction for a number", overrides: map[string]string{"nixlab:template": "{vmId: 9000.5}"}, key: "nixlab:template.vmId", fix: "not a whole number"},
		{name: "infinite number", overrides: map[string]string{"nixlab:template": "{vmId: .inf}"}, key: "nixlab:template.vmId: .inf is not a number", fix: "whole number", fileLevel: true},
		{name: "scalar for a mapping", overrides: map[string]string{"nixlab:template": "hello"}, key: "nixlab:template", fix: "mapping", typeLevel: true},
		{name: "list for a mapping", overrides: map[string]string{"nixlab:network": "[dhcp]"}, key: "nixlab:network", fix: "mapping", typeLevel: true},
		{name: "number as a group name", overrides: map[string]string{"nixlab:nodeGroups": "{1: {role: control-plane, count: 1, vmIdStart: 9100}}"}, check: func(c *Config) string {
			if _, ok := c.NodeGroups["1"]; !ok {
				return "group 1 missing"
			}
			return ""
		}},
		{name: "missing vmIdStart", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {role: control-plane, count: 1}}"}, key: "nixlab:nodeGroups.cp.vmIdStart", fix: "is not set"},
		{name: "missing role", overrides: map[string]string{"nixlab:nodeGroups": "{cp: {count: 1, vmIdStart: 9100}}"}, key: "nixlab:nodeGroups.cp.role", fix: "is not set"},
		{name: "misspelled setting", overrides: map[string]string{"nixlab:template": "{diskSize: 30}"}, key: "nixlab:template.diskSize", fix: `unknown setting; did you mean diskSizeGb?`},
		// Off-by-one boundaries of VM IDs.
		{name: "template ID is a group's last ID", overrides: groupsYAML("{cp: {role: control-plane, count: 2, vmIdStart: 8999}}"), key: "nixlab:nodeGroups.cp.vmIdStart", fix: "template's VM ID 9000"},
		{name: "group ends one before the template", overrides: groupsYAML("{cp: {role: control-plane, count: 2, vmIdStart: 8998}}")},
		{name: "ranges touch at one ID", overrides: groupsYAML("{cp: {role: control-plane, count: 2, vmIdStart: 9100}, w: {role: worker, count: 1, vmIdStart: 9101}}"), key: "nixlab:nodeGroups.w.vmIdStart", fix: "overlap group cp"},
		{name: "ranges adjacent", overrides: groupsYAML("{cp: {role: control-plane, count: 2, vmIdStart: 9100}, w: {role: worker, count: 1, vmIdStart: 9102}}")},
		{name: "vmIdStart 99", overrides: groupsYAML("{cp: {role: control-plane, count: 1, vmIdStart: 99}}"), key: "nixlab:nodeGroups.cp.vmIdStart", fix: "use 100 to"},
		{name: "vmIdStart 100", overrides: groupsYAML("{cp: {role: control-plane, count: 1, vmIdStart: 100}}")},
		// Kubernetes.
		{name: "kubernetes absent takes the defaults", overrides: kube(""), check: kubeDefaults},
		{name: "kubernetes misspelled setting", overrides: kube("{podCIDR: 10.0.0.0/16}"), key: "nixlab:kubernetes.podCIDR", fix: "unknown setting; did you mean podCidr?"},
		{name: "kubernetes unknown storage setting", overrides: kube("{storage: {classname: fast}}"), key: "nixlab:kubernetes.storage.classname", fix: "unknown setting; did you mean className?"},
		{name: "kubernetes enabled as a string", overrides: kube("{enabled: 'yes'}"), key: "nixlab:kubernetes.enabled", fix: "expected true or false"},
		{name: "kubernetes version as a number", overrides: kube("{version: 1.35}"), key: "nixlab:kubernetes.version", fix: "quote it"},
		{name: "kubernetes version quoted", overrides: kube("{version: '1.35'}")},
		{name: "kubernetes empty pod CIDR", overrides: kube("{podCidr: ''}"), key: "nixlab:kubernetes.podCidr", fix: "default (10.244.0.0/16)"},
		{name: "two control planes without endpoint", overrides: map[string]string{"nixlab:kubernetes": "", "nixlab:nodeGroups": "{cp: {role: control-plane, count: 2, vmIdStart: 9100}}"}, key: "nixlab:kubernetes.controlPlaneEndpoint", fix: "is required with 2 control-plane nodes"},
		{name: "two control planes, cluster disabled", overrides: map[string]string{"nixlab:kubernetes": "{enabled: false}", "nixlab:nodeGroups": "{cp: {role: control-plane, count: 2, vmIdStart: 9100}}"}},
		{name: "endpoint with a port", overrides: kube("{controlPlaneEndpoint: 'k8s.lab.example:6443'}"), key: "nixlab:kubernetes.controlPlaneEndpoint", fix: "without scheme or port"},
		{name: "storage without NFS", overrides: map[string]string{"nixlab:nfs": "", "nixlab:kubernetes": "{storage: {className: nfs}}"}, key: "nixlab:kubernetes.storage", fix: "needs nixlab:nfs"},
		{name: "storage {} without NFS", overrides: map[string]string{"nixlab:nfs": "", "nixlab:kubernetes": "{storage: {}}"}},
		{name: "kubernetes as a list", overrides: kube("[flannel]"), key: "nixlab:kubernetes", fix: "mapping", typeLevel: true},
	}
	runFileCases(t, cases)
}

// runFileCases reads each case's stack file the way `nixlab plan` does and
// the way `pulumi up` does (the SDK's loader, then the program), checks
// each outcome, and that both paths agree on the messages and the config.
func runFileCases(t *testing.T, cases []fileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := projectDir(t, stackYAML(c.overrides))
			planCfg, planErr := planRead(dir)
			checkOutcome(t, "plan", c, planErr)
			if c.fileLevel {
				return
			}
			values, ok := cliConfig(t, dir)
			if !ok {
				t.Fatalf("the Pulumi SDK's loader refuses the file")
			}
			if c.typeLevel {
				// The CLI refuses by the declared type; the program
				// (reached only through the Automation API) refuses too.
				_, upErr := upRead(t, dir, values)
				checkOutcome(t, "up", c, upErr)
				return
			}
			upCfg, upErr := upRead(t, dir, values)
			checkOutcome(t, "up", c, upErr)
			if got, want := messages(planErr), messages(upErr); !reflect.DeepEqual(got, want) {
				t.Errorf("plan and up disagree:\nplan: %q\nup:   %q", got, want)
			}
			if c.key == "" && !reflect.DeepEqual(planCfg, upCfg) {
				t.Errorf("plan and up read different configs:\nplan: %+v\nup:   %+v", planCfg, upCfg)
			}
			if c.check != nil && planCfg != nil {
				if msg := c.check(planCfg); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

// checkOutcome asserts a case's error: the key and fix (or none at all),
// no secret, no Go or JSON internals.
func checkOutcome(t *testing.T, path string, c fileCase, err error) {
	t.Helper()
	if c.key == "" {
		if err != nil {
			t.Fatalf("%s refuses a valid file: %v", path, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s accepts the file; want an error for %s", path, c.key)
	}
	msg := err.Error()
	if !strings.Contains(msg, c.key) || !strings.Contains(msg, c.fix) {
		t.Errorf("%s: error lacks %q or %q:\n%s", path, c.key, c.fix, msg)
	}
	if c.secret != "" && strings.Contains(msg, c.secret) {
		t.Errorf("%s: error repeats the secret:\n%s", path, msg)
	}
	for _, bad := range internals {
		if strings.Contains(msg, bad) {
			t.Errorf("%s: error shows %q:\n%s", path, bad, msg)
		}
	}
}

// messages are an error's KeyErrors without their file positions.
func messages(err error) []string {
	var out []string
	for _, ke := range keyErrors(err) {
		out = append(out, ke.Key+": "+ke.Msg)
	}
	return out
}

func static(cidr, gateway string, offset, count int) map[string]string {
	return map[string]string{
		"nixlab:network":    "{mode: static, cidr: " + cidr + ", gateway: " + gateway + "}",
		"nixlab:nodeGroups": "{cp: {role: control-plane, count: " + itoa(count) + ", vmIdStart: 9100, hostOffset: " + itoa(offset) + "}}",
	}
}

func endpoint(url string) map[string]string {
	return map[string]string{"nixlab:proxmox": "{endpoint: '" + url + "', node: pve, ssh: {host: 192.168.1.5}}"}
}

func nfs(server, export, mountPoint string) map[string]string {
	return map[string]string{"nixlab:nfs": "{server: " + server + ", export: " + export + ", mountPoint: " + mountPoint + "}"}
}

// kube sets nixlab:kubernetes ("" removes it).
func kube(v string) map[string]string { return map[string]string{"nixlab:kubernetes": v} }

// kubeDefaults checks the defaults of an absent nixlab:kubernetes (the
// lab has NFS, so the storage class is on).
func kubeDefaults(c *Config) string {
	k := c.Kubernetes
	s := k.Storage
	if !k.IsEnabled() || k.PodCIDR != DefaultPodCIDR || k.ServiceCIDR != DefaultServiceCIDR || k.CNI != CNIFlannel ||
		k.ControlPlaneEndpoint != "" || k.Version != "" ||
		s.ClassName != "nfs" || !s.IsDefaultClass() || s.OnDelete != OnDeleteDelete || s.SubDir != "" {
		return fmt.Sprintf("kubernetes defaults not applied: %+v", k)
	}
	return ""
}

func groupsYAML(v string) map[string]string { return map[string]string{"nixlab:nodeGroups": v} }

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Keys generated for these tests only (ssh-keygen -t ed25519 / -t rsa).
const (
	testEd25519Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIbNVk6UQwEcwxKYVxmEZq5zr1C9sNVDGFtxSQJGsIEF"
	testRSAKey     = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDpsa3nzl8UrrpujJr7VRAi99y9aiszUZIEFvQVuoJYxI8LJGKud6EDPH4CB8xBaqKGairKIIYZ+awS7vmxJXMOgk+IQroVzVURvGMD6MK8J+sfeTg7YmmM7973L2lNI4b+L2zgmub7+kH7udi6J1oOiZfOUBlSTcELTReiz+PAw=="
)

func TestStackFileErrorsCarryLines(t *testing.T) {
	dir := projectDir(t, "config:\n  nixlab:clusterName: lab\n  nixlab:template:\n    vmId: 0\n")
	_, err := planRead(dir)
	found := false
	for _, e := range keyErrors(err) {
		if e.Key == "nixlab:template.vmId" {
			found = true
			if e.Line != 4 || !strings.HasSuffix(e.File, "Pulumi.t.yaml") {
				t.Errorf("template.vmId located at %s:%d, want line 4 of Pulumi.t.yaml", e.File, e.Line)
			}
			if !strings.Contains(e.Error(), "Pulumi.t.yaml:4: nixlab:template.vmId: ") {
				t.Errorf("message %q lacks the position", e.Error())
			}
		}
	}
	if !found {
		t.Fatalf("no error for template.vmId: %v", err)
	}
	// `pulumi up` points at the same line: the program reads the stack
	// file of its project directory for positions.
	values, ok := cliConfig(t, dir)
	if !ok {
		t.Fatal("the SDK's loader refuses the file")
	}
	values[Namespace+":apiToken"] = testToken
	_, upErr := upRead(t, dir, values)
	if !strings.Contains(upErr.Error(), "Pulumi.t.yaml:4: nixlab:template.vmId: ") {
		t.Errorf("up's error lacks the position: %v", upErr)
	}
	// YAML syntax errors have the file:line: form and a hint.
	for _, tt := range []struct{ text, want string }{
		{"config:\n  nixlab:clusterName: lab\n  nixlab:template: [\n", "Pulumi.t.yaml:3: did not find expected node content; check indentation and quoting near line 3"},
		{"config:\n  nixlab:clusterName: lab\n  nixlab:network:\n    dns: [1.1.1.1, 8.8.8.8\n    domain: x\n", "Pulumi.t.yaml:4: did not find expected ',' or ']'; check indentation and quoting near line 4"},
		// yaml.v3 gives no line for a tab where indentation belongs.
		{"config:\n  nixlab:clusterName: lab\n  nixlab:adminUser: ops\n\tnixlab:timezone: UTC\n", "Pulumi.t.yaml:4: "},
	} {
		_, err = planRead(projectDir(t, tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "keys under config: are indented two spaces") || strings.Contains(err.Error(), ": line ") {
			t.Errorf("%q: %v, want %q and the hint", tt.text, err, tt.want)
		}
	}
	// A key written twice the same way (yaml.v3 nodes do not refuse it).
	dir = projectDir(t, "config:\n  nixlab:adminUser: ops\n  nixlab:adminUser: dev\n")
	_, err = planRead(dir)
	if err == nil || !strings.Contains(err.Error(), "Pulumi.t.yaml:3: nixlab:adminUser is set twice, here and on line 2") {
		t.Errorf("a key set twice: %v", err)
	}
}

// An unknown nested setting is reported at its own line and key, and the
// values of the known settings are still checked (all problems at once).
func TestUnknownNestedSettingAtItsLine(t *testing.T) {
	dir := projectDir(t, "config:\n  nixlab:clusterName: lab\n  nixlab:proxmox:\n    endpoint: https://192.168.1.5:8006/\n    node: pve\n    ssh:\n      host: 192.168.1.5\n      prot: 2222\n  nixlab:template:\n    vmId: 5\n  nixlab:nodeGroup: {}\n")
	_, err := planRead(dir)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"Pulumi.t.yaml:8: nixlab:proxmox.ssh.prot: unknown setting; did you mean port?",
		"Pulumi.t.yaml:10: nixlab:template.vmId: 5 is out of range",
		"Pulumi.t.yaml:11: nixlab:nodeGroup: is not a nixlab setting; did you mean nixlab:nodeGroups?",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lacks %q:\n%v", want, err)
		}
	}
}

// A project not named nixlab is refused: its settings would be ignored.
func TestProjectMustBeNamedNixlab(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Pulumi.yaml"), "name: mylab\nruntime: go\n")
	write(t, filepath.Join(dir, "Pulumi.t.yaml"), "config:\n  mylab:clusterName: x\n")
	_, err := ReadStackConfig(dir, "t")
	if err == nil || !strings.Contains(err.Error(), `the project is named "mylab"; name it nixlab`) {
		t.Fatalf("got %v", err)
	}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := LoadConfigIn(ctx, dir)
		return err
	}, pulumi.WithMocks("mylab", "t", noResources{}))
	if err == nil || !strings.Contains(err.Error(), `the project is named "mylab"`) {
		t.Fatalf("LoadConfig: %v", err)
	}
}

func TestStackFileEmptyValueIsEmptyStringAsInTheCLI(t *testing.T) {
	dir := projectDir(t, "config:\n  nixlab:clusterName:\n  timezone: UTC\n")
	sf, err := ReadStackFileFor(filepath.Join(dir, "Pulumi.t.yaml"), "nixlab")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sf.Lookup("nixlab:clusterName"); !ok || v != "" {
		t.Errorf("empty value read as %q (set %v), want \"\" as the CLI hands it", v, ok)
	}
	if v, _ := sf.Lookup("nixlab:timezone"); v != "UTC" {
		t.Errorf("unprefixed timezone read as %q", v)
	}
}
