package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// UploadedFileName is the file, beside the config, that lists the programs
// uploaded from the dashboard. The same name as the earlier Python tool's.
const UploadedFileName = "uploaded_programs.yaml"

// Uploads configures programs uploaded as ZIP files.
type Uploads struct {
	// MaxZipBytes is the largest upload accepted.
	MaxZipBytes int64
	// MaxFiles is the most entries a ZIP may hold.
	MaxFiles int
	// MaxUnpackedBytes is the most a ZIP may unpack to, counted while unpacking.
	MaxUnpackedBytes int64
	// Python is the interpreter that creates each upload's venv.
	Python string
	// PipArgs are extra arguments for every pip install (an index URL, or
	// --no-index --find-links DIR on an offline machine).
	PipArgs []string
	// InstallTimeout bounds a whole install (venv and pip).
	InstallTimeout time.Duration
}

func defaultUploads() Uploads {
	return Uploads{
		MaxZipBytes:      50 << 20,
		MaxFiles:         10000,
		MaxUnpackedBytes: 500 << 20,
		Python:           "python3",
		InstallTimeout:   5 * time.Minute,
	}
}

// NewProgram returns a program with every default applied, named name, running
// script: the starting point for programs that do not come from a file.
func (c *Config) NewProgram(name, script string) Program {
	p := c.defaultProgram()
	p.Name, p.Script = name, script
	return p
}

// UploadedPath is the path of uploaded_programs.yaml for this config.
func (c *Config) UploadedPath() string { return filepath.Join(c.Dir, UploadedFileName) }

func (d *decoder) uploads(u *Uploads, n *yaml.Node) {
	for _, p := range d.fields(n, "uploads", uploadsKeys()) {
		field := join("uploads", p.key)
		switch p.key {
		case "max_zip_mb":
			if v, ok := d.megabytes(p.value, field); ok {
				u.MaxZipBytes = v
			}
		case "max_unpacked_mb":
			if v, ok := d.megabytes(p.value, field); ok {
				u.MaxUnpackedBytes = v
			}
		case "max_files":
			if v, ok := d.integer(p.value, field); ok {
				if v < 1 {
					d.errorf(p.value, field, "must be at least 1, got %d", v)
				}
				u.MaxFiles = v
			}
		case "python":
			if s, ok := d.str(p.value, field); ok {
				if s == "" {
					d.errorf(p.value, field, "must not be empty")
				}
				u.Python = s
			}
		case "install_timeout_seconds":
			if v, ok := d.seconds(p.value, field, true); ok {
				u.InstallTimeout = v
			}
		}
	}
}

func (d *decoder) pipArgs(n *yaml.Node) []string {
	return d.args(n, "pip_args")
}

// loadUploaded adds the programs of uploaded_programs.yaml, if the file exists,
// to c, marked Uploaded. Its problems are reported like the config's own, in
// that file; a name also defined in the config is one of them.
func loadUploaded(c *Config) error {
	path := c.UploadedPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errors.Join(&Error{File: path, Msg: pathErrorMsg(err), Err: err})
	}
	// Only the keys pyvisor writes there: it rewrites the file at every upload,
	// update and removal, so any other setting would be lost without a word.
	d := &decoder{file: path, programKeys: uploadedProgramKeys()}
	root := d.uploadedRoot(data)
	if root != nil {
		taken := map[string]int{}
		logs := map[string]string{}
		for _, p := range c.Programs {
			taken[p.Name] = p.Line
			logs[LogKey(p.Name)] = p.Name
		}
		for _, p := range d.programs(c, root) {
			if p.Name == "" {
				continue // reported
			}
			if line, dup := taken[p.Name]; dup {
				d.add(&Error{File: path, Line: p.Line, Field: "programs", Msg: fmt.Sprintf(
					"uploaded program %q has the name of a program defined in %s (line %d); rename one of them",
					p.Name, c.Path, line)}, p.Line)
				continue
			}
			if other, clash := logs[LogKey(p.Name)]; clash {
				d.add(&Error{File: path, Line: p.Line, Field: "programs", Msg: fmt.Sprintf(
					"uploaded program %q has the same log file name as %q; rename one of them", p.Name, other)}, p.Line)
				continue
			}
			p.Uploaded = true
			c.Programs = append(c.Programs, p)
		}
	}
	return d.err()
}

// uploadedRoot returns the programs list of uploaded_programs.yaml: either the
// top-level list itself or the list under a top-level "programs" key.
func (d *decoder) uploadedRoot(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.syntax(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil
	}
	root := deref(doc.Content[0])
	if root.Kind == yaml.SequenceNode {
		return root
	}
	for _, p := range d.fields(root, "", []string{"programs"}) {
		return p.value
	}
	return nil
}

// uploadedEntry is one program in uploaded_programs.yaml, as written.
type uploadedEntry struct {
	Name    string   `yaml:"name"`
	Script  string   `yaml:"script"`
	Args    []string `yaml:"args"`
	Enabled bool     `yaml:"enabled"`
	Cwd     string   `yaml:"cwd"`
	Venv    string   `yaml:"venv"`
	Group   string   `yaml:"group,omitempty"`
}

// MarshalUploaded renders the uploaded programs as the content of
// uploaded_programs.yaml. Only what an upload sets is written.
func MarshalUploaded(programs []Program) ([]byte, error) {
	doc := struct {
		Programs []uploadedEntry `yaml:"programs"`
	}{Programs: []uploadedEntry{}}
	for _, p := range programs {
		doc.Programs = append(doc.Programs, uploadedEntry{
			Name: p.Name, Script: p.Script, Args: p.Args, Enabled: p.Enabled, Cwd: p.Cwd, Venv: p.Venv, Group: p.Group,
		})
	}
	body, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", UploadedFileName, err)
	}
	header := "# Programs uploaded from the pyvisor dashboard. Written by pyvisor; edit with care.\n"
	return append([]byte(header), body...), nil
}
