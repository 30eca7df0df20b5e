package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixlab/nixlab/plan"
)

// planFormats are the formats plan.Write renders.
var planFormats = map[string]bool{"text": true, "json": true, "mermaid": true, "dot": true}

// runPlan is `nixlab plan`: offline, no Pulumi CLI or backend needed.
func runPlan(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var format, output string
	f := newFlags("plan", "[--format text|json|mermaid|dot] [-o file] [--stack name] [--dir directory]",
		"Validate the stack config (Pulumi.<stack>.yaml in --dir) and render the resource graph `nixlab up`\n"+
			"would deploy. Works offline, without the Pulumi CLI or a backend. A bad config fails naming the key.")
	sf.register(f)
	f.StringVar(&format, "format", "text", "output `format`: text, json, mermaid or dot")
	f.outputFlag(&output, "write to `file` (mode 0644) instead of stdout")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	if !planFormats[format] {
		return c.usageError(f, fmt.Sprintf("--format %q: want text, json, mermaid or dot", format))
	}
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	p, err := plan.Build(sf.dir, sf.stack)
	if err != nil {
		// Package plan prefixes its errors with "plan: "; after
		// "nixlab plan: " that would stutter.
		return c.fail(ctx, "plan", errors.New(strings.TrimPrefix(err.Error(), "plan: ")))
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
