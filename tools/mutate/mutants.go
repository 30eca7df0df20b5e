package main

import (
	"fmt"
	"regexp"
	"strings"
)

// A mutant is one small change to a decision line of a shell script.
type mutant struct {
	Script string // repository-relative path, e.g. components/scripts/upload-iso.sh
	Line   int    // 1-based line number
	Op     string // operator name, e.g. "negate-test"
	Before string // the original line (trimmed)
	After  string // the mutated line (trimmed)
	Text   string // the whole mutated script
}

func (m mutant) String() string {
	return fmt.Sprintf("%s:%d %s: %s  =>  %s", m.Script, m.Line, m.Op, m.Before, m.After)
}

// span is a half-open byte range of a line.
type span struct{ from, to int }

// spans returns the ranges between open and close markers on one line
// (outermost pairs, not nested), e.g. the insides of [[ ... ]].
func spans(line, open, close string) []span {
	var out []span
	for i := 0; i < len(line); {
		j := strings.Index(line[i:], open)
		if j < 0 {
			break
		}
		start := i + j + len(open)
		k := strings.Index(line[start:], close)
		if k < 0 {
			break
		}
		out = append(out, span{start, start + k})
		i = start + k + len(close)
	}
	return out
}

func inSpans(at int, ss []span) bool {
	for _, s := range ss {
		if at >= s.from && at < s.to {
			return true
		}
	}
	return false
}

// arithSpans are the (( ... )) tests of a line, without $(( ... ))
// expansions.
func arithSpans(line string) []span {
	var out []span
	for _, s := range spans(line, "((", "))") {
		if s.from >= 3 && line[s.from-3] == '$' {
			continue
		}
		out = append(out, s)
	}
	return out
}

// swap is an operator replaced by another inside a kind of test.
type swap struct {
	from, to string
	where    func(line string) []span
}

func testSpans(line string) []span { return spans(line, "[[", "]]") }

func anyTestSpans(line string) []span { return append(testSpans(line), arithSpans(line)...) }

var swaps = []swap{
	{" -eq ", " -ne ", testSpans}, {" -ne ", " -eq ", testSpans},
	{" -lt ", " -le ", testSpans}, {" -le ", " -lt ", testSpans},
	{" -gt ", " -ge ", testSpans}, {" -ge ", " -gt ", testSpans},
	{" == ", " != ", anyTestSpans}, {" != ", " == ", anyTestSpans},
	{" =~ ", " != ", testSpans},
	{" < ", " <= ", arithSpans}, {" <= ", " < ", arithSpans},
	{" > ", " >= ", arithSpans}, {" >= ", " > ", arithSpans},
	{" && ", " || ", nil}, {" || ", " && ", nil},
}

var (
	exitCode   = regexp.MustCompile(`\bexit ([0-9]+)\b`)
	returnCode = regexp.MustCompile(`\breturn ([0-9]+)\b`)
	// dropped are statements whose removal must be noticed: status writes
	// and the ways a script gives up.
	dropped = regexp.MustCompile(`^(write_status|die|usage|fail|installer_failed|timed_out)\b`)
)

// lineMutants returns the mutated versions of one line, each with its
// operator name.
func lineMutants(line string) [][2]string {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return nil
	}
	var out [][2]string
	add := func(op, text string) {
		if text != line {
			out = append(out, [2]string{op, text})
		}
	}
	// Negate the first [[ ]] or (( )) test of the line (or drop its !).
	for _, open := range []string{"[[ ", "(( "} {
		i := strings.Index(line, open)
		if i < 0 || (open == "(( " && i > 0 && line[i-1] == '$') {
			continue
		}
		if strings.HasSuffix(line[:i], "! ") {
			add("negate-test", line[:i-2]+line[i:])
		} else {
			add("negate-test", line[:i]+"! "+line[i:])
		}
		break
	}
	for _, s := range swaps {
		var where []span
		if s.where != nil {
			where = s.where(line)
		}
		for i := 0; ; {
			j := strings.Index(line[i:], s.from)
			if j < 0 {
				break
			}
			at := i + j
			if s.where == nil || inSpans(at+1, where) {
				add("swap"+strings.ReplaceAll(s.from, " ", "")+strings.ReplaceAll(s.to, " ", ""),
					line[:at]+s.to+line[at+len(s.from):])
			}
			i = at + len(s.from)
		}
	}
	for _, c := range []struct {
		name string
		re   *regexp.Regexp
	}{{"exit-code", exitCode}, {"return-code", returnCode}} {
		for _, loc := range c.re.FindAllStringSubmatchIndex(line, -1) {
			code := line[loc[2]:loc[3]]
			to := "0"
			if code == "0" {
				to = "1"
			}
			add(c.name, line[:loc[2]]+to+line[loc[3]:])
		}
	}
	if dropped.MatchString(trimmed) && !strings.HasSuffix(trimmed, "\\") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		add("drop-statement", indent+":")
	}
	return out
}

// scriptMutants returns every mutant of the script text (before the
// syntax check, see validMutants).
func scriptMutants(script, text string) []mutant {
	lines := strings.Split(text, "\n")
	var out []mutant
	inHeredoc := ""
	for i, line := range lines {
		if inHeredoc != "" {
			if strings.TrimSpace(line) == inHeredoc {
				inHeredoc = ""
			}
			continue
		}
		if m := heredoc.FindStringSubmatch(line); m != nil {
			inHeredoc = m[1]
		}
		if i == 0 && strings.HasPrefix(line, "#!") {
			continue
		}
		for _, lm := range lineMutants(line) {
			mutated := append([]string{}, lines...)
			mutated[i] = lm[1]
			out = append(out, mutant{
				Script: script, Line: i + 1, Op: lm[0],
				Before: strings.TrimSpace(line), After: strings.TrimSpace(lm[1]),
				Text: strings.Join(mutated, "\n"),
			})
		}
	}
	return out
}

// heredoc matches the start of a here-document (<<EOF, <<-'EOF', <<"EOF").
var heredoc = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)
