package components

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// scripts holds the shell scripts the components run, locally or on the
// Proxmox host. They are embedded so the package works when imported from
// another module.
//
//go:embed scripts/*.sh
var scripts embed.FS

// script returns an embedded script's text, with the helper files it
// sources from beside itself inlined (see includeLine).
func script(name string) string {
	return inlineHelpers(name, embedded)
}

// inlineHelpers returns the script name as read returns it, each includeLine
// replaced by the text of the helper it sources (read the same way).
func inlineHelpers(name string, read func(string) string) string {
	return includeLine.ReplaceAllStringFunc(read(name), func(line string) string {
		lib := includeLine.FindStringSubmatch(line)[1]
		body := strings.TrimPrefix(read(lib), "#!/usr/bin/env bash\n")
		return "# --- " + lib + ", inlined by nixlab ---\n" + strings.TrimRight(body, "\n") + "\n# --- end of " + lib + " ---"
	})
}

// includeLine is how a script sources a helper file beside it, e.g.
// `source "${BASH_SOURCE[0]%/*}/kube-common.sh"`: it works when the script
// runs as a file (tests, by hand), and script() replaces the line with the
// file's text, because a script sent as `bash -c '<text>'` has no file
// beside it.
var includeLine = regexp.MustCompile(`(?m)^source "\$\{BASH_SOURCE\[0\]%/\*\}/([a-z0-9-]+\.sh)"$`)

// embedded returns an embedded file of scripts/ as it is.
func embedded(name string) string {
	b, err := scripts.ReadFile("scripts/" + name)
	if err != nil {
		panic(fmt.Sprintf("components: embedded script %s missing: %v", name, err))
	}
	return string(b)
}

// shellQuote quotes s for a POSIX shell as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scriptPrefixes caches `bash -c '<script>' <name>` per script: the quoted
// script text is the same for every node, so a graph of N nodes quotes it
// once instead of N times.
var scriptPrefixes sync.Map // script name -> string

// scriptCommand returns a command line that runs an embedded script with
// bash and the given positional arguments: `bash -c '<script>' <name> args...`.
// The script text travels in the command itself, so nothing has to be copied
// to the machine that runs it first.
func scriptCommand(name string, args ...string) string {
	prefix, ok := scriptPrefixes.Load(name)
	if !ok {
		prefix, _ = scriptPrefixes.LoadOrStore(name,
			"bash -c "+shellQuote(script(name))+" "+shellQuote(strings.TrimSuffix(name, ".sh")))
	}
	var b strings.Builder
	b.WriteString(prefix.(string))
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	return b.String()
}
