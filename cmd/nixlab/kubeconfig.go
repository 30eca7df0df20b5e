package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nixlab/nixlab/components"
	"github.com/nixlab/nixlab/stack"
)

// kubeconfigOutput is the stack output holding the cluster's admin
// kubeconfig (admin.conf with server = the control-plane endpoint), a
// secret. The KubernetesCluster component produces it; the stack exports it
// only when nixlab:kubernetes.enabled is true (the default).
const kubeconfigOutput = stack.OutputKubeconfig

// kubeconfigFileName is the file name `nixlab kubeconfig` writes in the
// stack's state directory, next to the SSH key.
const kubeconfigFileName = "kubeconfig"

// runKubeconfig is `nixlab kubeconfig`.
func runKubeconfig(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var output string
	f := newFlags("kubeconfig", "[-o file] [-s|--stack name] [--dir directory]",
		"Write the cluster's admin kubeconfig (the secret stack output kubeconfig) to a file with mode 0600,\n"+
			"in a directory created with mode 0700, replacing the file in one step. Refuses to write through a\n"+
			"symlink. The kubeconfig is never printed: nixlab prints the path and the KUBECONFIG line to use it.")
	sf.register(f)
	f.outputFlag(&output, "kubeconfig `file` (default <stateDir>/<stack>/kubeconfig in --dir, next to the SSH key; stateDir is nixlab:stateDir, default .nixlab)")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	// Flags first: a usage error needs no Pulumi CLI.
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	if msg := checkOutputPath(output); msg != "" {
		return c.usageError(f, msg)
	}
	if output == "" {
		output = defaultKubeconfigPath(sf)
	}
	if !c.requirePulumi("kubeconfig") {
		return 1
	}
	outs, err := c.env.NewEngine().Outputs(ctx, sf.request(c), true)
	if err != nil {
		return c.fail(ctx, "kubeconfig", fmt.Errorf("read the outputs of stack %s: %w", sf.stack, err))
	}
	kubeconfig, err := kubeconfigValue(outs, sf)
	if err != nil {
		return c.fail(ctx, "kubeconfig", err)
	}
	if !outs[kubeconfigOutput].Secret {
		// The file is still worth writing, but the state holds the
		// cluster's admin credentials in plain text: say so.
		fmt.Fprintf(c.stderr, "nixlab kubeconfig: warning: the stack output %s is not a Pulumi secret; "+
			"the stack state holds the cluster's admin credentials unencrypted\n", kubeconfigOutput)
	}
	if err := writePrivateFile(output, []byte(kubeconfig)); err != nil {
		return c.fail(ctx, "kubeconfig", err)
	}
	abs, err := filepath.Abs(output)
	if err != nil {
		abs = output
	}
	fmt.Fprintf(c.stdout, "wrote the kubeconfig of stack %s to %s (mode 0600)\n", sf.stack, output)
	fmt.Fprintf(c.stdout, "use it: export KUBECONFIG=%s; kubectl get nodes\n", shellQuote(abs))
	return 0
}

// kubeconfigValue returns the revealed kubeconfig output. A missing output
// gets an error that says why it can be missing and what to run; no error
// ever holds the value.
func kubeconfigValue(outs map[string]Output, sf stackFlags) (string, error) {
	if _, ok := outs[kubeconfigOutput]; !ok {
		return "", missingKubeconfigError(outs, sf)
	}
	s, err := stringOutput(outs, kubeconfigOutput, sf.stack)
	if err != nil {
		return "", fmt.Errorf("%w; run `nixlab up --stack %s` to write it again", err, sf.stack)
	}
	return s, nil
}

// missingKubeconfigError explains a stack without the kubeconfig output:
// never deployed, Kubernetes turned off in the stack config, or a
// deployment that did not reach the kubeconfig step.
func missingKubeconfigError(outs map[string]Output, sf stackFlags) error {
	stackFile := sf.stackFile()
	switch {
	case len(outs) == 0:
		return fmt.Errorf("stack %s has no outputs yet: deploy it with `nixlab up --stack %s` "+
			"(it ends with the cluster's kubeconfig)", sf.stack, sf.stack)
	case readStackFileConfig(stackFile).kubernetesDisabled:
		return fmt.Errorf("stack %s has no kubeconfig: Kubernetes is turned off in %s "+
			"(nixlab:kubernetes.enabled: false); set it to true (or remove it) and run `nixlab up --stack %s`",
			sf.stack, stackFile, sf.stack)
	}
	return fmt.Errorf("stack %s has no output %s: the Kubernetes cluster was not deployed yet "+
		"(or the last `up` stopped before it); run `nixlab up --stack %s`, or check that "+
		"nixlab:kubernetes.enabled is not false in %s", sf.stack, kubeconfigOutput, sf.stack, stackFile)
}

// stackFileConfig is what `nixlab kubeconfig` reads from the stack config
// file itself: where the state directory is (the default file's place) and
// whether Kubernetes is turned off (to explain a missing output).
type stackFileConfig struct {
	stateDir           string // nixlab:stateDir, "" when not set
	kubernetesDisabled bool   // nixlab:kubernetes.enabled is false
}

// readStackFileConfig reads Pulumi.<stack>.yaml in the project directory. An
// unreadable or malformed file, or a value of another type, counts as not
// set: `nixlab plan` and `up` are the places that report a bad config.
func readStackFileConfig(stackFile string) stackFileConfig {
	var out stackFileConfig
	data, err := os.ReadFile(stackFile)
	if err != nil {
		return out
	}
	var doc struct {
		Config map[string]yaml.Node `yaml:"config"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return out
	}
	if node, ok := doc.Config["nixlab:stateDir"]; ok {
		var dir string
		if node.Decode(&dir) == nil {
			out.stateDir = dir
		}
	}
	if node, ok := doc.Config["nixlab:kubernetes"]; ok {
		var k struct {
			Enabled *bool `yaml:"enabled"`
		}
		if node.Decode(&k) == nil && k.Enabled != nil {
			out.kubernetesDisabled = !*k.Enabled
		}
	}
	return out
}

// stackFile is the path of the stack's config file.
func (s *stackFlags) stackFile() string {
	return filepath.Join(s.dir, "Pulumi."+s.stack+".yaml")
}

// defaultKubeconfigPath is the kubeconfig's place when -o is not given:
// <stateDir>/<stack>/kubeconfig, next to the SSH key (stack.SSHKeyFile),
// where stateDir is nixlab:stateDir from the stack file (default .nixlab),
// relative to the project directory.
func defaultKubeconfigPath(sf stackFlags) string {
	dir := readStackFileConfig(sf.stackFile()).stateDir
	if dir == "" {
		dir = components.DefaultStateDir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(sf.dir, dir)
	}
	return filepath.Join(dir, sf.stack, kubeconfigFileName)
}

// kubeconfigCommand is the `nixlab kubeconfig` command line for the stack
// and project directory of sf (flags left out when they are the defaults).
func kubeconfigCommand(sf stackFlags) string {
	cmd := "nixlab kubeconfig"
	if sf.stack != defaultStack {
		cmd += " --stack " + shellQuote(sf.stack)
	}
	if filepath.Clean(sf.dir) != "." {
		cmd += " --dir " + shellQuote(sf.dir)
	}
	return cmd
}

// shellSafe matches a word the shell takes as it is.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
