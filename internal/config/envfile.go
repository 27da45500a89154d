package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxEnvFileSize bounds what Load reads from an env file (or a TLS certificate or key); anything larger
// is surely not one.
const maxEnvFileSize = 1 << 20

// readSmallFile reads a regular file of at most maxEnvFileSize bytes: an env file, a certificate, a key.
// Refusing other kinds of file keeps a FIFO or a device named by mistake from hanging or flooding Load.
func readSmallFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a regular file (%v)", info.Mode().Type())}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEnvFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxEnvFileSize {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", maxEnvFileSize)}
	}
	return data, nil
}

// envLineError is a bad line of an env file.
type envLineError struct {
	line int
	msg  string
}

// parseEnvFile parses KEY=VALUE lines: blank lines and lines starting with # are skipped, an "export "
// prefix is allowed, and a value wrapped in matching single or double quotes is unquoted (nothing else:
// no escapes, no expansion, and # after a value is part of it). Messages never include values, which
// may be secrets.
func parseEnvFile(data []byte) ([]EnvVar, []envLineError) {
	var vars []EnvVar
	var bad []envLineError
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSpace(rest)
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			bad = append(bad, envLineError{i + 1, "line has no '=' (want KEY=VALUE)"})
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if strings.ContainsAny(key, " \t") {
			bad = append(bad, envLineError{i + 1, fmt.Sprintf("variable name %q contains a blank", key)})
			continue
		}
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		if msg := checkEnvVar(key, value); msg != "" {
			bad = append(bad, envLineError{i + 1, msg})
			continue
		}
		vars = append(vars, EnvVar{key, value})
	}
	return vars, bad
}
