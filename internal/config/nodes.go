package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxSeconds bounds every duration setting so that converting it to a time.Duration cannot overflow.
const maxSeconds = 1e9

// decoder walks a yaml.Node tree along the schema, collecting every problem instead of stopping at the
// first. Decoding through nodes rather than struct tags is what gives each problem its line.
type decoder struct {
	file     string
	problems []problem
	// users caches the user lookups of `user` settings by the text given.
	users map[string]*User
	// programKeys are the keys a program entry may have; nil means those of
	// process_manager.yaml (uploaded_programs.yaml allows fewer).
	programKeys []string
	// dependsNodes are the nodes of the names in the depends_on of the program being decoded.
	dependsNodes []*yaml.Node
}

// problem is a found *Error and the config file line it is reported in order of.
type problem struct {
	err *Error
	at  int
}

// add records e, to be listed in the order of config file line at.
func (d *decoder) add(e *Error, at int) {
	d.problems = append(d.problems, problem{e, at})
}

// err joins the problems found, in file order, or returns nil. Unknown keys are found before the values
// around them, so the order of finding is not the order of reading.
func (d *decoder) err() error {
	slices.SortStableFunc(d.problems, func(a, b problem) int { return a.at - b.at })
	errs := make([]error, len(d.problems))
	for i, p := range d.problems {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

// errorf records a problem at node n (which may be nil for problems without a line).
func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.add(&Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}, line)
}

// pair is one key and its value in a mapping.
type pair struct {
	key      string
	keyNode  *yaml.Node
	valueRaw *yaml.Node // as written, possibly an alias
	value    *yaml.Node // with aliases resolved
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	// The parser only creates aliases to anchors it has seen, and anchors are never on aliases, so one
	// step is enough; the bound only guards against hand-built trees.
	for range 8 {
		if n == nil || n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value or an explicit null, which the schema treats as absent.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names the kind of a node for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unexpected YAML node"
}

// fields returns the non-null entries of mapping n in file order, with YAML merge keys ("<<: *base")
// expanded. It reports n not being a mapping, duplicate keys, non-scalar keys, and keys not in known (with
// the closest known key as a suggestion). Only entries with known keys are returned.
func (d *decoder) fields(n *yaml.Node, field string, known []string) []pair {
	all := d.mapping(n, field)
	out := make([]pair, 0, len(all))
	for _, p := range all {
		if !slices.Contains(known, p.key) {
			msg := fmt.Sprintf("unknown key %q", p.key)
			if s := suggest(p.key, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(p.keyNode, join(field, p.key), "%s", msg)
			continue
		}
		if !isNull(p.value) {
			out = append(out, p)
		}
	}
	return out
}

// mapping returns every entry of mapping n in file order, nulls included, with merge keys expanded and
// duplicate keys reported; it reports n not being a mapping.
func (d *decoder) mapping(n *yaml.Node, field string) []pair {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping, got %s", describe(n))
		return nil
	}
	return d.mergedPairs(n, field, map[*yaml.Node]bool{})
}

// mergedPairs lists the entries of mapping n, explicit keys first, then keys from merged mappings that
// are not already present (earlier merges win, as YAML specifies). visited stops a mapping from being
// expanded twice, which bounds the work for self-referencing or repeatedly merged anchors.
func (d *decoder) mergedPairs(n *yaml.Node, field string, visited map[*yaml.Node]bool) []pair {
	visited[n] = true
	var explicit []pair
	var merges []*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, field, "expected a key name, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, join(field, k.Value), "duplicate key %q (first on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, pair{key: k.Value, keyNode: k, valueRaw: v, value: deref(v)})
	}
	out := explicit
	add := func(m *yaml.Node) {
		m = deref(m)
		if m.Kind != yaml.MappingNode {
			d.errorf(m, field, "a merge (<<) needs a mapping or a list of mappings, got %s", describe(m))
			return
		}
		if visited[m] {
			return
		}
		for _, p := range d.mergedPairs(m, field, visited) {
			if _, dup := seen[p.key]; !dup {
				seen[p.key] = p.keyNode.Line
				out = append(out, p)
			}
		}
	}
	for _, m := range merges {
		if mm := deref(m); mm.Kind == yaml.SequenceNode {
			for _, item := range mm.Content {
				add(item)
			}
			continue
		}
		add(m)
	}
	return out
}

// items returns the elements of list n, reporting n not being a list.
func (d *decoder) items(n *yaml.Node, field string) []*yaml.Node {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "expected a list, got %s", describe(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		out[i] = deref(item)
	}
	return out
}

// str returns the text of scalar n. Any scalar is accepted, so `name: 123` is the name "123".
func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, field, "expected a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// integer returns the value of integer scalar n.
func (d *decoder) integer(n *yaml.Node, field string) (int, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errorf(n, field, "expected an integer, got %s", describe(n))
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		d.errorf(n, field, "%s is out of range for an integer", n.Value)
		return 0, false
	}
	return v, true
}

// number returns the value of numeric scalar n, which must be finite.
func (d *decoder) number(n *yaml.Node, field string) (float64, bool) {
	n = deref(n)
	if tag := n.ShortTag(); n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
		d.errorf(n, field, "expected a number, got %s", describe(n))
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, field, "expected a finite number, got %s", n.Value)
		return 0, false
	}
	return v, true
}

// boolean returns the value of boolean scalar n. Besides true/false it accepts the unquoted YAML 1.1
// words yes/no/on/off, because the Python version of this tool read these files with PyYAML.
func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!bool" {
			var v bool
			if err := n.Decode(&v); err == nil {
				return v, true
			}
		}
		if n.Style == 0 {
			switch n.Value {
			case "yes", "Yes", "YES", "on", "On", "ON":
				return true, true
			case "no", "No", "NO", "off", "Off", "OFF":
				return false, true
			}
		}
	}
	d.errorf(n, field, "expected true or false, got %s", describe(n))
	return false, false
}

// seconds returns the duration given by numeric scalar n in seconds: not negative, or greater than zero
// when positive is set. Fractions are allowed.
func (d *decoder) seconds(n *yaml.Node, field string, positive bool) (time.Duration, bool) {
	v, ok := d.number(n, field)
	switch {
	case !ok:
		return 0, false
	case positive && v <= 0:
		d.errorf(n, field, "must be greater than 0, got %s", deref(n).Value)
		return 0, false
	case v < 0:
		d.errorf(n, field, "must not be negative, got %s", deref(n).Value)
		return 0, false
	case v > maxSeconds:
		d.errorf(n, field, "%s is too large (at most %d seconds)", deref(n).Value, int64(maxSeconds))
		return 0, false
	}
	dur := time.Duration(math.Round(v * float64(time.Second)))
	if positive && dur <= 0 {
		d.errorf(n, field, "%s rounds to zero nanoseconds", deref(n).Value)
		return 0, false
	}
	return dur, true
}

// join appends a key to a field path.
func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// index appends a list index to a field path.
func index(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

// hasNUL reports a NUL byte, which no argument, environment variable or path can carry to exec.
func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }
