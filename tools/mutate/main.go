// Command mutate is nixlab's mutation tester for its shell scripts. For each
// script under components/scripts and nixos/scripts it makes small changes
// to the decision lines (negated [[ ]] and (( )) tests, swapped comparison
// and logic operators, flipped exit and return codes, dropped status writes
// and give-up statements), runs that script's Go tests against each mutant
// in a private copy of the repository, and reports which mutants the tests
// killed and which survived. A mutant that runs into the time limit counts
// as survived.
//
// Usage, from the repository root:
//
//	go run ./tools/mutate                      # every mutant of every script
//	go run ./tools/mutate -scripts upload-iso.sh,finalize-template.sh
//	go run ./tools/mutate -sample 20 -seed 1 -budget 10m   # CI's fast subset
//	go run ./tools/mutate -list                # print the mutants only
//	go run ./tools/mutate -match 'finalize-template.sh:14[5-9] '   # some lines
//
// Exit status: 0 when the efficacy (killed / tested) reaches -min-efficacy,
// 1 otherwise or on an error (e.g. the unmutated tests fail).
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	repo         string
	scripts      []string
	sample       int
	seed         uint64
	budget       time.Duration
	list         bool
	minEfficacy  float64
	match        *regexp.Regexp
	showKilled   bool
	dirs         []string
	syntaxFilter bool
}

func parseOptions(args []string) (options, error) {
	var o options
	var scripts, match string
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.StringVar(&o.repo, "repo", ".", "repository root")
	fs.StringVar(&scripts, "scripts", "", "comma-separated script file names to mutate (default: all)")
	fs.IntVar(&o.sample, "sample", 0, "test only this many mutants, picked at random with -seed (0: all)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the -sample pick")
	fs.DurationVar(&o.budget, "budget", 0, "start no mutant after this much time (0: no limit); the rest is reported as not run")
	fs.BoolVar(&o.list, "list", false, "list the mutants, run nothing")
	fs.Float64Var(&o.minEfficacy, "min-efficacy", 0, "fail below this efficacy in percent")
	fs.BoolVar(&o.showKilled, "v", false, "print killed mutants too")
	fs.StringVar(&match, "match", "", "only mutants whose description (script:line op: before => after) matches this regexp")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if scripts != "" {
		o.scripts = strings.Split(scripts, ",")
	}
	if match != "" {
		re, err := regexp.Compile(match)
		if err != nil {
			return o, fmt.Errorf("-match: %w", err)
		}
		o.match = re
	}
	o.dirs = []string{"components/scripts", "nixos/scripts"}
	o.syntaxFilter = true
	return o, nil
}

// collect returns the scripts to mutate (repository-relative) and their
// mutants that bash accepts.
func collect(o options) ([]string, []mutant, int, error) {
	var scripts []string
	for _, dir := range o.dirs {
		found, err := filepath.Glob(filepath.Join(o.repo, dir, "*.sh"))
		if err != nil {
			return nil, nil, 0, err
		}
		for _, f := range found {
			rel := filepath.ToSlash(filepath.Join(dir, filepath.Base(f)))
			if len(o.scripts) > 0 && !contains(o.scripts, filepath.Base(f)) {
				continue
			}
			if _, ok := targetFor(rel); !ok {
				return nil, nil, 0, fmt.Errorf("no tests are mapped for %s: add it to targets in tools/mutate/runner.go", rel)
			}
			scripts = append(scripts, rel)
		}
	}
	sort.Strings(scripts)
	if len(scripts) == 0 {
		return nil, nil, 0, fmt.Errorf("no scripts matched %q", o.scripts)
	}
	var all []mutant
	invalid := 0
	for _, s := range scripts {
		b, err := os.ReadFile(filepath.Join(o.repo, s))
		if err != nil {
			return nil, nil, 0, err
		}
		for _, m := range scriptMutants(s, string(b)) {
			if o.match != nil && !o.match.MatchString(m.String()) {
				continue
			}
			if o.syntaxFilter && !bashSyntaxOK(m.Text) {
				invalid++
				continue
			}
			all = append(all, m)
		}
	}
	return scripts, all, invalid, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pick returns n mutants chosen with the seed, in script/line order.
func pick(all []mutant, n int, seed uint64) []mutant {
	if n <= 0 || n >= len(all) {
		return all
	}
	idx := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Perm(len(all))[:n]
	sort.Ints(idx)
	out := make([]mutant, 0, n)
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

// tally counts the outcomes of one script.
type tally struct{ killed, survived, timedOut, notRun int }

func (t tally) tested() int { return t.killed + t.survived + t.timedOut }

func efficacy(killed, tested int) float64 {
	if tested == 0 {
		return 0
	}
	return 100 * float64(killed) / float64(tested)
}

func run(args []string, out io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	scripts, all, invalid, err := collect(o)
	if err != nil {
		return err
	}
	chosen := pick(all, o.sample, o.seed)
	fmt.Fprintf(out, "%d mutants of %d scripts (%d more rejected by bash -n); testing %d\n", len(all), len(scripts), invalid, len(chosen))
	if o.list {
		for _, m := range chosen {
			fmt.Fprintln(out, m)
		}
		return nil
	}
	pkgs := map[string]bool{}
	for _, m := range chosen {
		t, _ := targetFor(m.Script)
		pkgs[t.pkg] = true
	}
	var pkgList []string
	for p := range pkgs {
		pkgList = append(pkgList, p)
	}
	sort.Strings(pkgList)
	start := time.Now()
	w, err := newWorkspace(o.repo, pkgList, out)
	if err != nil {
		return err
	}
	defer w.close()
	// Interrupted: leave no mutated script running and no workspace behind.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		w.killStrays()
		w.close()
		os.Exit(1)
	}()
	var used []string
	for _, s := range scripts {
		for _, m := range chosen {
			if m.Script == s {
				used = append(used, s)
				break
			}
		}
	}
	if err := w.baseline(used); err != nil {
		return err
	}
	tallies := map[string]*tally{}
	for _, s := range used {
		tallies[s] = &tally{}
	}
	for _, m := range chosen {
		t := tallies[m.Script]
		if o.budget > 0 && time.Since(start) > o.budget {
			t.notRun++
			continue
		}
		res, err := w.try(m)
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		switch res {
		case killed:
			t.killed++
		case survived:
			t.survived++
		case timedOut:
			t.timedOut++
		}
		if res != killed || o.showKilled {
			fmt.Fprintf(out, "%-9s %s\n", res, m)
		}
	}
	fmt.Fprintf(out, "\n%-42s %7s %7s %8s %9s %7s %9s\n", "script", "mutants", "killed", "survived", "timed out", "not run", "efficacy")
	var sum tally
	for _, s := range used {
		t := tallies[s]
		fmt.Fprintf(out, "%-42s %7d %7d %8d %9d %7d %8.1f%%\n", s, t.tested()+t.notRun, t.killed, t.survived, t.timedOut, t.notRun, efficacy(t.killed, t.tested()))
		sum.killed += t.killed
		sum.survived += t.survived
		sum.timedOut += t.timedOut
		sum.notRun += t.notRun
	}
	total := efficacy(sum.killed, sum.tested())
	fmt.Fprintf(out, "%-42s %7d %7d %8d %9d %7d %8.1f%%\n", "total", sum.tested()+sum.notRun, sum.killed, sum.survived, sum.timedOut, sum.notRun, total)
	fmt.Fprintf(out, "took %v (%s)\n", time.Since(start).Round(time.Second), time.Now().UTC().Format("2006-01-02"))
	if total < o.minEfficacy {
		return fmt.Errorf("efficacy %.1f%% is below -min-efficacy %.1f%%", total, o.minEfficacy)
	}
	return nil
}
