package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixlab/nixlab/plan"
)

// cli is the state shared by the subcommands: where output goes and the
// environment.
type cli struct {
	stdout, stderr io.Writer
	env            Env
}

// flags is a subcommand's flag set together with its usage text.
type flags struct {
	*flag.FlagSet
	name     string
	synopsis string // after "nixlab <name> "
	about    string // what the command does, one paragraph
}

// newFlags returns an empty flag set for the subcommand name.
func newFlags(name, synopsis, about string) *flags {
	fs := flag.NewFlagSet("nixlab "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, name: name, synopsis: synopsis, about: about}
}

// usage writes the subcommand's usage and flags to w.
// outputFlag registers --output and its shorthand -o.
func (f *flags) outputFlag(p *string, usage string) {
	f.StringVar(p, "output", "", usage)
	f.StringVar(p, "o", "", "shorthand for --output `file`")
}

func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: nixlab %s %s\n\n%s\n\nFlags (-flag and --flag are the same):\n", f.name, f.synopsis, f.about)
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// parse parses args. ok is false when the command must end with code:
// 0 after --help (usage on stdout), 2 after a bad flag or argument (the
// error and the usage on stderr).
func (c *cli) parse(f *flags, args []string) (code int, ok bool) {
	err := f.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.usage(c.stdout)
		return 0, false
	case err != nil:
		return c.usageError(f, err.Error()), false
	case f.NArg() > 0:
		return c.usageError(f, fmt.Sprintf("unexpected argument %q", f.Arg(0))), false
	}
	return 0, true
}

// usageError reports a usage error with the command's usage; it returns 2.
func (c *cli) usageError(f *flags, msg string) int {
	fmt.Fprintf(c.stderr, "nixlab %s: %s\n\n", f.name, msg)
	f.usage(c.stderr)
	return 2
}

// fail reports err for the command name and returns the exit code: 130 when
// ctx was interrupted, 1 otherwise.
func (c *cli) fail(ctx context.Context, name string, err error) int {
	msg := strings.TrimSpace(err.Error())
	if ctx.Err() != nil {
		// The engine's own words ("stopped: context canceled") say
		// nothing the user does not know: they pressed Ctrl-C.
		fmt.Fprintf(c.stderr, "nixlab %s: %s interrupted\n", name, name)
		return 130
	}
	fmt.Fprintf(c.stderr, "nixlab %s: %s\n", name, msg)
	return 1
}

// requirePulumi reports whether the Pulumi CLI is on PATH; when it is not,
// it says what to install and how.
func (c *cli) requirePulumi(name string) bool {
	if _, err := c.env.LookPath("pulumi"); err == nil {
		return true
	}
	fmt.Fprintf(c.stderr, "nixlab %s: %s\n", name, missingPulumiMessage(name))
	return false
}

// missingPulumiMessage says how to get the Pulumi CLI that `nixlab name`
// needs.
func missingPulumiMessage(name string) string {
	return fmt.Sprintf("the Pulumi CLI is not installed (needed for `nixlab %s`); install it: "+
		"curl -fsSL https://get.pulumi.com | sh (or see https://www.pulumi.com/docs/install/), "+
		"then `pulumi login` (or `pulumi login --local`). `nixlab plan` works without it.", name)
}

// defaultStack is the stack every command works on without --stack: the
// reference homelab, Pulumi.lab.yaml.
const defaultStack = "lab"

// stackFlags are --stack (-s) and --dir, common to every command.
type stackFlags struct {
	stack string
	dir   string
}

// register adds --stack and --dir to f.
func (s *stackFlags) register(f *flags) {
	f.StringVar(&s.stack, "stack", defaultStack, "stack `name` (its config is Pulumi.<name>.yaml in --dir)")
	f.StringVar(&s.stack, "s", defaultStack, "shorthand for --stack `name`")
	f.StringVar(&s.dir, "dir", ".", "project `directory` holding Pulumi.yaml")
}

// check validates the values; it returns a usage error message or "".
// The stack name becomes part of a file name (Pulumi.<stack>.yaml in
// --dir), so it must be a bare Pulumi stack name (see plan.CheckStackName):
// a name with a path separator or ".." could reach a file outside --dir.
func (s *stackFlags) check() string {
	switch {
	case strings.TrimSpace(s.stack) == "":
		return "--stack must not be empty"
	case s.dir == "":
		return "--dir must not be empty"
	}
	if err := plan.CheckStackName(s.stack); err != nil {
		return "--stack " + err.Error()
	}
	switch fi, err := os.Stat(s.dir); {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("--dir %q does not exist; give the project directory holding Pulumi.yaml", s.dir)
	case err != nil:
		return fmt.Sprintf("--dir %q cannot be read; check its permissions", s.dir)
	case !fi.IsDir():
		return fmt.Sprintf("--dir %q is a file, not a directory; give the project directory holding Pulumi.yaml", s.dir)
	}
	return ""
}

// checkOutputPath refuses an output file path that cannot be written as a
// file, before any work is done: an existing directory, a path ending in a
// separator, or a path below an existing non-directory. It returns a
// usage error message naming the flag, or "".
func checkOutputPath(path string) string {
	const flagName = "-o/--output"
	if path == "" {
		return ""
	}
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)) {
		return fmt.Sprintf("%s %q names a directory; give a file name, e.g. %s", flagName, path, filepath.Join(path, "out.txt"))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Sprintf("%s %q is a directory; give a file name, e.g. %s", flagName, path, filepath.Join(path, "out.txt"))
	}
	// The first existing ancestor must be a directory, or the file cannot
	// be created (and nixlab would only find out after the work).
	for d := filepath.Dir(filepath.Clean(path)); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Sprintf("%s %q: %s is not a directory", flagName, path, d)
			}
			return ""
		}
		if parent := filepath.Dir(d); parent == d {
			return ""
		}
	}
}

// request is the engine request for the flags.
func (s *stackFlags) request(c *cli) Request {
	return Request{Stack: s.stack, Dir: s.dir, Stdout: c.stdout, Stderr: c.stderr}
}
