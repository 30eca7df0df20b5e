package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixlab/nixlab/stack"
)

// inventoryFormats maps --format of `nixlab inventory` to its stack output
// and default file name.
var inventoryFormats = map[string]struct{ output, file string }{
	"ini":       {stack.OutputInventory, "inventory.ini"},
	"yaml":      {stack.OutputInventoryYAML, "inventory.yaml"},
	"kubespray": {stack.OutputInventoryKubespray, "inventory-kubespray.ini"},
}

// runInventory is `nixlab inventory`.
func runInventory(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var format, output string
	f := newFlags("inventory", "[--format ini|yaml|kubespray] [-o file] [--stack name] [--dir directory]",
		"Write the Ansible inventory of an existing stack to a file (mode 0644, parent directories created).\n"+
			"The inventory points Ansible at the key `nixlab ssh-key` writes; run ansible in --dir.")
	sf.register(f)
	f.StringVar(&format, "format", "ini", "inventory `format`: ini (nixlab groups), yaml (the same as YAML) or kubespray (Kubespray's groups, INI)")
	f.outputFlag(&output, "output `file` (default in --dir: inventory.ini, inventory.yaml for --format yaml, inventory-kubespray.ini for --format kubespray)")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	// Flags first: a usage error needs no Pulumi CLI.
	spec, known := inventoryFormats[format]
	if !known {
		return c.usageError(f, fmt.Sprintf("--format %q: want ini, yaml or kubespray", format))
	}
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	if output == "" {
		output = filepath.Join(sf.dir, spec.file)
	}
	if msg := checkOutputPath(output); msg != "" {
		return c.usageError(f, msg)
	}
	if !c.requirePulumi("inventory") {
		return 1
	}
	outs, err := c.env.NewEngine().Outputs(ctx, sf.request(c), false)
	if err != nil {
		return c.fail(ctx, "inventory", fmt.Errorf("read the outputs of stack %s: %w", sf.stack, err))
	}
	text, err := stringOutput(outs, spec.output, sf.stack)
	if err != nil {
		return c.fail(ctx, "inventory", err)
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if err := writePublicFile(output, []byte(text)); err != nil {
		return c.fail(ctx, "inventory", err)
	}
	fmt.Fprintf(c.stdout, "wrote the %s inventory of stack %s to %s\n", format, sf.stack, output)
	return 0
}

// runSSHKey is `nixlab ssh-key`.
func runSSHKey(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var output string
	f := newFlags("ssh-key", "[-o file] [--stack name] [--dir directory]",
		"Write the stack's SSH private key (the secret output sshPrivateKey) to a file with mode 0600, in a\n"+
			"directory created with mode 0700. Refuses to write through a symlink. The key is never printed.")
	sf.register(f)
	f.outputFlag(&output, "key `file` (default the stack output sshKeyFile, relative to --dir; the inventory expects it there)")
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
	if !c.requirePulumi("ssh-key") {
		return 1
	}
	outs, err := c.env.NewEngine().Outputs(ctx, sf.request(c), true)
	if err != nil {
		return c.fail(ctx, "ssh-key", fmt.Errorf("read the outputs of stack %s: %w", sf.stack, err))
	}
	key, err := stringOutput(outs, stack.OutputSSHPrivateKey, sf.stack)
	if err != nil {
		return c.fail(ctx, "ssh-key", err)
	}
	if output == "" {
		keyFile, err := stringOutput(outs, stack.OutputSSHKeyFile, sf.stack)
		if err != nil {
			return c.fail(ctx, "ssh-key", fmt.Errorf("%w (or pass --output)", err))
		}
		output = keyFile
		if !filepath.IsAbs(output) {
			output = filepath.Join(sf.dir, output)
		}
	}
	if !strings.HasSuffix(key, "\n") {
		key += "\n" // OpenSSH rejects a private key without the final newline
	}
	if err := writePrivateFile(output, []byte(key)); err != nil {
		return c.fail(ctx, "ssh-key", err)
	}
	fmt.Fprintf(c.stdout, "wrote the SSH private key of stack %s to %s (mode 0600)\n", sf.stack, output)
	hint := "ansible -i inventory.ini all -m ping"
	if filepath.Clean(sf.dir) != "." {
		hint = "cd " + sf.dir + " && " + hint
	}
	fmt.Fprintf(c.stdout, "check the nodes: nixlab inventory && %s\n", hint)
	return 0
}

// stringOutput returns the stack output name, which must be a revealed,
// non-empty string.
func stringOutput(outs map[string]Output, name, stackName string) (string, error) {
	o, ok := outs[name]
	if !ok {
		return "", fmt.Errorf("stack %s has no output %s (deploy it with `nixlab up --stack %s`)", stackName, name, stackName)
	}
	s, isString := o.Value.(string)
	switch {
	case !isString:
		return "", fmt.Errorf("stack output %s is a %T, not a string", name, o.Value)
	case o.Secret && s == secretMask:
		return "", fmt.Errorf("stack output %s is a secret the engine did not reveal", name)
	case s == "":
		return "", fmt.Errorf("stack output %s is empty", name)
	}
	return s, nil
}

// writePublicFile writes data to path with mode 0644, creating missing
// parent directories (0755). It writes a temporary file next to path and
// renames it, so readers never see a half-written file.
func writePublicFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create the directory of %s: %w", path, err)
	}
	return replaceFile(path, data, 0o644)
}

// writePrivateFile writes data to path with mode 0600, also when path
// exists already with another mode; missing parent directories are created
// with mode 0700. It refuses when path is a symlink (or anything but a
// regular file), so the secret cannot be redirected to another place. The data
// never sits in a file readable by others: the temporary file is 0600 from
// its creation.
func writePrivateFile(path string, data []byte) error {
	switch fi, err := os.Lstat(path); {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("refusing to write %s: it is a symlink (nixlab writes secrets only to regular files, never through a link)", path)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("refusing to write %s: it is not a regular file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return err
	}
	return replaceFile(path, data, 0o600)
}

// mkdirPrivate creates dir and its missing parents with mode 0700 (exactly,
// whatever the umask); existing directories are left as they are.
func mkdirPrivate(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", d, err)
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", missing[i], err)
		}
		if err := os.Chmod(missing[i], 0o700); err != nil {
			return fmt.Errorf("chmod %s: %w", missing[i], err)
		}
	}
	return nil
}

// replaceFile writes data to a new temporary file in path's directory, sets
// mode (exactly, whatever the umask) and renames it over path.
func replaceFile(path string, data []byte, mode fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
