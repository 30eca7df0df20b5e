package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixlab/nixlab/plan"
)

// planFormats are the formats plan.Write renders.
var planFormats = map[string]bool{"text": true, "json": true, "mermaid": true, "dot": true}

// runPlan is `nixlab plan`: offline, no Pulumi CLI or backend needed.
func runPlan(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var format, output, against string
	f := newFlags("plan", "[--format text|json|mermaid|dot] [-o file] [--against old.json] [--stack name] [--dir directory]",
		"Validate the stack config (Pulumi.<stack>.yaml in --dir) and render the resource graph `nixlab up`\n"+
			"would deploy. Works offline, without the Pulumi CLI or a backend. A bad config fails naming the key.\n"+
			"With --against, compare with an earlier JSON plan and list the nodes the change reboots, replaces or\n"+
			"rolls to a new node system.")
	sf.register(f)
	f.StringVar(&format, "format", "text", "output `format`: text, json, mermaid or dot (without --format, -o file.json/.mmd/.dot picks json/mermaid/dot)")
	f.outputFlag(&output, "write to `file` (mode 0644) instead of stdout")
	f.StringVar(&against, "against", "", "earlier plan (`file` written by --format json) to compare with: which nodes the change reboots or rolls")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	if !flagSet(f, "format") {
		format = formatForFile(output)
	}
	if !planFormats[format] {
		return c.usageError(f, fmt.Sprintf("--format %q: want text, json, mermaid or dot", format))
	}
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	if msg := checkOutputPath(output); msg != "" {
		return c.usageError(f, msg)
	}
	var old *plan.Plan
	if against != "" {
		var err error
		if old, err = readPlanFile(against); err != nil {
			return c.usageError(f, "--against "+err.Error())
		}
	}
	// ctx ends at the first Ctrl-C (see main): the plan stops at its next
	// resource and the command exits with 130.
	p, err := plan.BuildContext(ctx, sf.dir, sf.stack)
	if err != nil {
		// Package plan prefixes its errors with "plan: "; after
		// "nixlab plan: " that would stutter.
		return c.fail(ctx, "plan", errors.New(strings.TrimPrefix(err.Error(), "plan: ")))
	}
	if old != nil {
		p.CompareWith(old, against)
	}
	if output == "" {
		if err := p.Write(c.stdout, format); err != nil {
			return c.fail(ctx, "plan", fmt.Errorf("render the plan: %w", err))
		}
		return 0
	}
	var buf bytes.Buffer
	if err := p.Write(&buf, format); err != nil {
		return c.fail(ctx, "plan", fmt.Errorf("render the plan: %w", err))
	}
	if err := writePublicFile(output, buf.Bytes()); err != nil {
		return c.fail(ctx, "plan", err)
	}
	fmt.Fprintf(c.stderr, "wrote the %s plan of stack %s to %s\n", format, sf.stack, output)
	return 0
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(f *flags, name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// formatForFile is the plan format an output file's extension asks for
// when --format is not given: .json, .mmd/.mermaid and .dot (.gv); text
// otherwise.
func formatForFile(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json"
	case ".mmd", ".mermaid":
		return "mermaid"
	case ".dot", ".gv":
		return "dot"
	}
	return "text"
}

// readPlanFile reads an earlier plan written with --format json.
func readPlanFile(path string) (*plan.Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (write one first with `nixlab plan --format json -o %s`)", path, err, path)
	}
	if first := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(first) > 0 && first[0] != '{' {
		kind := "a text plan"
		switch {
		case bytes.HasPrefix(first, []byte("digraph")):
			kind = "a dot graph"
		case bytes.HasPrefix(first, []byte("flowchart")), bytes.HasPrefix(first, []byte("graph")):
			kind = "a mermaid graph"
		}
		return nil, fmt.Errorf("%s is %s, not JSON; write it with `nixlab plan --format json -o %s`", path, kind, path)
	}
	p, err := plan.ReadJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "plan: "))
	}
	return p, nil
}
