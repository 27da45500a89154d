package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxInstances bounds `instances`: each copy is a process, a log file and a row of the dashboard.
const maxInstances = 64

// EnvInstance is the environment variable that tells each copy of a program with `instances` its number,
// 1-based.
const EnvInstance = "PYVISOR_INSTANCE"

// InstancePlaceholder in args and environment values is replaced by the copy's number.
const InstancePlaceholder = "{instance}"

// InstanceTemplate is what the copies of an entry with instances differ by, as the entry writes it: its
// args and environment values with InstancePlaceholder not yet replaced, and without PYVISOR_INSTANCE,
// which pyvisor sets. An exporter writes one definition for all the copies from it.
type InstanceTemplate struct {
	// Args are the entry's args; nil when it has none.
	Args []string
	// Environment is the entry's environment, in file order.
	Environment []EnvVar
}

// InstanceName is the name of copy i (1-based) of the program name: "NAME:i".
func InstanceName(name string, i int) string { return name + ":" + strconv.Itoa(i) }

// instances decodes a program's instances: 1 to maxInstances.
func (d *decoder) instances(n *yaml.Node, field string) int {
	v, ok := d.integer(n, field)
	if !ok {
		return 0
	}
	if v < 1 || v > maxInstances {
		d.errorf(n, field, "%d is out of range 1-%d", v, maxInstances)
		return 0
	}
	return v
}

// appendInstances appends to dst the n copies of p, named NAME:1 to NAME:n, each with PYVISOR_INSTANCE
// set and {instance} in its args and environment values replaced by its number; p itself when n is 0
// (no instances key). A copy's definition does not depend on n, so that a reload changing n leaves the
// copies that stay as they are.
func appendInstances(dst []Program, p Program, n int) []Program {
	if n == 0 {
		return append(dst, p)
	}
	tmpl := InstanceTemplate{Args: p.Args}
	for _, e := range p.Environment {
		if e.Key != EnvInstance {
			tmpl.Environment = append(tmpl.Environment, e)
		}
	}
	for i := range n {
		num := strconv.Itoa(i + 1)
		c := p
		c.Name = InstanceName(p.Name, i+1)
		c.InstanceOf = p.Name
		c.Instance = i + 1
		c.Template = tmpl
		c.Args = make([]string, len(p.Args))
		for j, a := range p.Args {
			c.Args[j] = strings.ReplaceAll(a, InstancePlaceholder, num)
		}
		if p.Args == nil {
			c.Args = nil
		}
		c.Environment = make([]EnvVar, 0, len(p.Environment)+1)
		for _, e := range p.Environment {
			if e.Key == EnvInstance {
				continue // pyvisor sets it
			}
			c.Environment = append(c.Environment, EnvVar{e.Key, strings.ReplaceAll(e.Value, InstancePlaceholder, num)})
		}
		c.Environment = append(c.Environment, EnvVar{EnvInstance, num})
		dst = append(dst, c)
	}
	return dst
}
