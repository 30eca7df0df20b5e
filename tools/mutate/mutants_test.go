package main

import (
	"slices"
	"strings"
	"testing"
)

func TestLineMutants(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string // "op|mutated line"
	}{
		{`  [[ -n "$x" ]] || die "no x"`, []string{
			`negate-test|  ! [[ -n "$x" ]] || die "no x"`,
			`swap||&&|  [[ -n "$x" ]] && die "no x"`,
		}},
		{`  if ! [[ "$a" == "$b" ]]; then`, []string{
			`negate-test|  if [[ "$a" == "$b" ]]; then`,
			`swap==!=|  if ! [[ "$a" != "$b" ]]; then`,
		}},
		{`    (( failures < 3 )) || die "gave up"`, []string{
			`negate-test|    ! (( failures < 3 )) || die "gave up"`,
			`swap<<=|    (( failures <= 3 )) || die "gave up"`,
			`swap||&&|    (( failures < 3 )) && die "gave up"`,
		}},
		{`  if [[ $# -eq 2 && "$1" -ge 1 ]]; then exit 0; fi`, []string{
			`negate-test|  if ! [[ $# -eq 2 && "$1" -ge 1 ]]; then exit 0; fi`,
			`swap-eq-ne|  if [[ $# -ne 2 && "$1" -ge 1 ]]; then exit 0; fi`,
			`swap-ge-gt|  if [[ $# -eq 2 && "$1" -gt 1 ]]; then exit 0; fi`,
			`swap&&|||  if [[ $# -eq 2 || "$1" -ge 1 ]]; then exit 0; fi`,
			`exit-code|  if [[ $# -eq 2 && "$1" -ge 1 ]]; then exit 1; fi`,
		}},
		// $(( )) is arithmetic expansion, not a test; > outside (( )) is a
		// redirection.
		{`  n=$((a > b ? a : b)); echo x > "$f"`, nil},
		{`  return 1`, []string{`return-code|  return 0`}},
		{`    write_status failed "$message"`, []string{`drop-statement|    :`}},
		{`  die "cannot stop VM"`, []string{`drop-statement|  :`}},
		{`  # [[ -n "$x" ]] || exit 1`, nil},
		{``, nil},
	} {
		var got []string
		for _, m := range lineMutants(tc.line) {
			got = append(got, m[0]+"|"+m[1])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("lineMutants(%q)\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}

func TestScriptMutantsSkipShebangCommentsAndHeredocs(t *testing.T) {
	script := strings.Join([]string{
		"#!/usr/bin/env bash",
		"# exit 1 in a comment",
		"cat <<EOF",
		"exit 1 inside a here-document",
		"EOF",
		"exit 2",
	}, "\n")
	got := scriptMutants("x.sh", script)
	if len(got) != 1 || got[0].Line != 6 || got[0].After != "exit 0" {
		t.Fatalf("mutants %v, want only line 6 exit 2 -> exit 0", got)
	}
	if !strings.HasSuffix(got[0].Text, "EOF\nexit 0") || !strings.HasPrefix(got[0].Text, "#!/usr/bin/env bash\n# exit 1") {
		t.Errorf("mutated text %q", got[0].Text)
	}
}

func TestTargetFor(t *testing.T) {
	for script, want := range map[string]target{
		"components/scripts/upload-iso.sh":        {"components", "^TestScriptUploadISO_"},
		"components/scripts/finalize-template.sh": {"components", "^TestScriptFinalizeTemplate_"},
		"components/scripts/host-key.sh":          {"components", "^TestScriptHostKey_"},
		"nixos/scripts/install.sh":                {"tests", "^TestInstaller"},
	} {
		if got, ok := targetFor(script); !ok || got != want {
			t.Errorf("targetFor(%s) = %v, %v; want %v", script, got, ok, want)
		}
	}
	if _, ok := targetFor("nixos/scripts/new.sh"); ok {
		t.Error("an unmapped nixos script got a target")
	}
}

func TestPickIsStableAndSorted(t *testing.T) {
	var all []mutant
	for i := 1; i <= 50; i++ {
		all = append(all, mutant{Script: "a.sh", Line: i})
	}
	a, b := pick(all, 10, 7), pick(all, 10, 7)
	if len(a) != 10 || !slices.EqualFunc(a, b, func(x, y mutant) bool { return x.Line == y.Line }) {
		t.Fatalf("picks differ: %v %v", a, b)
	}
	if !slices.IsSortedFunc(a, func(x, y mutant) int { return x.Line - y.Line }) {
		t.Errorf("pick not in line order: %v", a)
	}
	if c := pick(all, 10, 8); slices.EqualFunc(a, c, func(x, y mutant) bool { return x.Line == y.Line }) {
		t.Error("another seed picked the same mutants")
	}
	if len(pick(all, 0, 1)) != 50 {
		t.Error("sample 0 does not mean all")
	}
}

func TestEfficacy(t *testing.T) {
	if got := efficacy(3, 4); got != 75 {
		t.Errorf("efficacy(3, 4) = %v", got)
	}
	if got := efficacy(0, 0); got != 0 {
		t.Errorf("efficacy(0, 0) = %v", got)
	}
	// A timed-out mutant counts as tested but not killed.
	if got := (tally{killed: 1, timedOut: 1}).tested(); got != 2 {
		t.Errorf("tested = %d", got)
	}
}
