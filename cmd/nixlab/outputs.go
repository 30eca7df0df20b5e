package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// runOutputs is `nixlab outputs`.
func runOutputs(ctx context.Context, c *cli, args []string) int {
	var sf stackFlags
	var showSecrets, asJSON bool
	f := newFlags("outputs", "[--json] [--show-secrets] [--stack name] [--dir directory]",
		"Print the outputs of an existing stack as `name: value` lines (multi-line values as an indented\n"+
			"block), or as one JSON object with --json. Secret outputs show as [secret] unless --show-secrets.")
	sf.register(f)
	f.BoolVar(&asJSON, "json", false, "print the outputs as a JSON object")
	f.BoolVar(&showSecrets, "show-secrets", false, "reveal secret outputs (the SSH private key, the kubeconfig)")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	if msg := sf.check(); msg != "" {
		return c.usageError(f, msg)
	}
	if !c.requirePulumi("outputs") {
		return 1
	}
	outs, err := c.env.NewEngine().Outputs(ctx, sf.request(c), showSecrets)
	if err != nil {
		return c.fail(ctx, "outputs", fmt.Errorf("read the outputs of stack %s: %w", sf.stack, err))
	}
	if asJSON {
		err = writeOutputsJSON(c.stdout, outs, showSecrets)
	} else {
		err = writeOutputsText(c.stdout, outs, showSecrets)
	}
	if err != nil {
		return c.fail(ctx, "outputs", err)
	}
	return 0
}

// shownValue is the value of o as printed: the mask for a secret unless
// showSecrets.
func shownValue(o Output, showSecrets bool) any {
	if o.Secret && !showSecrets {
		return secretMask
	}
	return o.Value
}

// sortedNames returns the output names in order.
func sortedNames(outs map[string]Output) []string {
	names := make([]string, 0, len(outs))
	for name := range outs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// writeOutputsText writes one `name: value` line per output. Strings print
// as they are, other values as compact JSON; a multi-line string prints as
// `name: |` followed by its lines indented by two spaces.
func writeOutputsText(w io.Writer, outs map[string]Output, showSecrets bool) error {
	var b strings.Builder
	for _, name := range sortedNames(outs) {
		v := shownValue(outs[name], showSecrets)
		s, isString := v.(string)
		if !isString {
			raw, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("format output %s: %w", name, err)
			}
			s = string(raw)
		}
		if !strings.Contains(strings.TrimRight(s, "\n"), "\n") {
			fmt.Fprintf(&b, "%s: %s\n", name, strings.TrimRight(s, "\n"))
			continue
		}
		fmt.Fprintf(&b, "%s: |\n", name)
		for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeOutputsJSON writes the outputs as one indented JSON object, names
// sorted.
func writeOutputsJSON(w io.Writer, outs map[string]Output, showSecrets bool) error {
	shown := make(map[string]any, len(outs))
	for name, o := range outs {
		shown[name] = shownValue(o, showSecrets)
	}
	raw, err := json.MarshalIndent(shown, "", "  ")
	if err != nil {
		return fmt.Errorf("format outputs: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", raw)
	return err
}
