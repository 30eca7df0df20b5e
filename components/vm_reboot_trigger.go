package components

import (
	"reflect"
	"slices"
	"strings"

	"github.com/muhlba91/pulumi-proxmoxve/sdk/v6/go/proxmoxve/vm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// elementTyper is a Pulumi args struct: its ElementType is the plain struct
// whose `pulumi:"…"` tags are the input property names.
type elementTyper interface{ ElementType() reflect.Type }

// pulumiNames maps the Go field names of an args struct to their Pulumi
// property names (the tags of its ElementType, which has the same fields).
func pulumiNames(args elementTyper) map[string]string {
	out := map[string]string{}
	et := args.ElementType()
	for i := 0; i < et.NumField(); i++ {
		f := et.Field(i)
		if tag := strings.Split(f.Tag.Get("pulumi"), ",")[0]; tag != "" {
			out[f.Name] = tag
		}
	}
	return out
}

// rebootTrigger returns, by Pulumi property name, exactly the values args
// sends for every reboot field (RebootFields): a top-level reboot field
// whole, and the reboot sub-fields of a list (disks[*].aio,
// disks[*].datastoreId) per element. Inputs the resource ignores (paths in
// ignore one level below a reboot field, such as
// initialization.userAccount) are left out: the provider never sees their
// changes, so they reboot nothing. Fields args leaves unset are absent, so
// setting one later changes the trigger too.
//
// It is derived from the args struct itself, not from a list of what nixlab
// sets today: a reboot field that a later change adds to the VM's inputs
// enters the trigger, and an update that reboots the node always runs its
// readiness check again (the one-node-at-a-time gate).
func rebootTrigger(args *vm.VirtualMachineArgs, ignore []string) pulumi.Map {
	out := pulumi.Map{}
	names := pulumiNames(*args)
	v := reflect.ValueOf(args).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := names[v.Type().Field(i).Name]
		if name == "" || f.Kind() != reflect.Interface || f.IsNil() {
			continue
		}
		in, ok := f.Interface().(pulumi.Input)
		if !ok {
			continue
		}
		if RebootsVM(name) {
			out[name] = withoutIgnored(in, name, ignore)
			continue
		}
		if sub := rebootSubFields(name); len(sub) > 0 {
			if p := projectList(f, sub); p != nil {
				out[name] = p
			}
		}
	}
	return out
}

// rebootSubFields are the reboot fields below list field name:
// "disks" -> [aio datastoreId].
func rebootSubFields(name string) []string {
	var out []string
	for _, f := range rebootFields {
		if rest, ok := strings.CutPrefix(f, name+"[*]."); ok {
			out = append(out, rest)
		}
	}
	return out
}

// projectList returns, for a list of args structs, each element's fields
// named in sub (those that are set); nil when list is not such a list.
func projectList(list reflect.Value, sub []string) pulumi.Array {
	elems := list.Elem()
	if elems.Kind() != reflect.Slice {
		return nil
	}
	out := pulumi.Array{}
	for i := 0; i < elems.Len(); i++ {
		e := elems.Index(i)
		if e.Kind() == reflect.Interface {
			e = e.Elem()
		}
		if e.Kind() != reflect.Pointer || e.IsNil() || e.Elem().Kind() != reflect.Struct {
			return nil
		}
		s := e.Elem()
		et, ok := e.Interface().(elementTyper)
		if !ok {
			return nil
		}
		names := pulumiNames(et)
		m := pulumi.Map{}
		for j := 0; j < s.NumField(); j++ {
			fv := s.Field(j)
			n := names[s.Type().Field(j).Name]
			if !slices.Contains(sub, n) || fv.Kind() != reflect.Interface || fv.IsNil() {
				continue
			}
			if in, ok := fv.Interface().(pulumi.Input); ok {
				m[n] = in
			}
		}
		out = append(out, m)
	}
	return out
}

// withoutIgnored returns in (a pointer to an args struct, or any input)
// with the fields zeroed whose path name.<field> is in ignore; in itself when
// none is.
func withoutIgnored(in pulumi.Input, name string, ignore []string) pulumi.Input {
	var drop []string
	for _, p := range ignore {
		if rest, ok := strings.CutPrefix(p, name+"."); ok && !strings.ContainsAny(rest, ".[") {
			drop = append(drop, rest)
		}
	}
	rv := reflect.ValueOf(in)
	et, ok := in.(elementTyper)
	if len(drop) == 0 || !ok || rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return in
	}
	names := pulumiNames(et)
	cp := reflect.New(rv.Elem().Type())
	cp.Elem().Set(rv.Elem())
	for j := 0; j < cp.Elem().NumField(); j++ {
		if slices.Contains(drop, names[cp.Elem().Type().Field(j).Name]) {
			cp.Elem().Field(j).Set(reflect.Zero(cp.Elem().Field(j).Type()))
		}
	}
	return cp.Interface().(pulumi.Input)
}
