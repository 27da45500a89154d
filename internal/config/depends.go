package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// dependsEntry is one program's depends_on list as written, for checking once every program is known.
type dependsEntry struct {
	program string
	field   string // the program's field path, such as "programs[2]"
	names   []string
	nodes   []*yaml.Node // nodes[i] is where names[i] is written
}

// dependsOn decodes a program's depends_on: a list of program names, each once.
func (d *decoder) dependsOn(n *yaml.Node, field string) dependsEntry {
	var e dependsEntry
	for i, item := range d.items(n, field) {
		f := index(field, i)
		s, ok := d.str(item, f)
		if !ok {
			continue
		}
		if j := indexOf(e.names, s); j >= 0 {
			d.errorf(item, f, "%q is listed twice (first on line %d)", s, e.nodes[j].Line)
			continue
		}
		e.names = append(e.names, s)
		e.nodes = append(e.nodes, item)
	}
	return e
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// checkDependencies reports depends_on names that are not programs of the file, and cycles, each at the
// line of the name that closes it, with its whole path.
func (d *decoder) checkDependencies(entries []dependsEntry) {
	byName := map[string]*dependsEntry{}
	for i := range entries {
		byName[entries[i].program] = &entries[i]
	}
	known := map[string]bool{}
	for _, e := range entries {
		known[e.program] = true
	}
	for _, e := range entries {
		for i, name := range e.names {
			if !known[name] {
				d.errorf(e.nodes[i], index(join(e.field, "depends_on"), i),
					"no program named %q in this file", name)
			}
		}
	}
	// Depth-first, in file order; an edge back to a program on the current path closes a cycle.
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		mark[name] = onPath
		path = append(path, name)
		if e := byName[name]; e != nil {
			for i, dep := range e.names {
				switch mark[dep] {
				case onPath:
					start := indexOf(path, dep)
					cycle := append(append([]string{}, path[start:]...), dep)
					d.errorf(e.nodes[i], index(join(e.field, "depends_on"), i),
						"dependency cycle: %s", strings.Join(cycle, " -> "))
				case unseen:
					if known[dep] {
						visit(dep)
					}
				}
			}
		}
		path = path[:len(path)-1]
		mark[name] = done
	}
	for _, e := range entries {
		if mark[e.program] == unseen {
			visit(e.program)
		}
	}
}
