package inventory

import "strings"

// renderINI writes m in Ansible's INI format: one section per group (hosts,
// :children, :vars), sections separated by a blank line. Host lines are
// split by shlex and their values, like :vars values, go through Python's
// ast.literal_eval in Ansible; iniHostValue and iniVarsValue quote what
// would not survive.
func renderINI(m model) string {
	var b strings.Builder
	section := func(header string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("[" + header + "]\n")
	}
	hostLine := func(h host) {
		b.WriteString(h.name)
		for _, v := range h.vars {
			b.WriteString(" " + v.key + "=" + iniHostValue(v.val))
		}
		b.WriteByte('\n')
	}
	if m.defineInAll {
		section("all")
		for _, h := range m.allHosts {
			hostLine(h)
		}
	}
	for _, g := range m.groups {
		// A group without hosts still gets its (empty) section when it
		// has no children either, so that it exists for Ansible.
		if len(g.hosts) > 0 || len(g.children) == 0 {
			section(g.name)
			for _, h := range g.hosts {
				hostLine(h)
			}
		}
		if len(g.children) > 0 {
			section(g.name + ":children")
			for _, c := range g.children {
				b.WriteString(c + "\n")
			}
		}
		if len(g.vars) > 0 {
			section(g.name + ":vars")
			for _, v := range g.vars {
				b.WriteString(v.key + "=" + iniVarsValue(v.val) + "\n")
			}
		}
	}
	return b.String()
}
