package testkit

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Demo wheel contents: the wheel's package demo has VALUE and GREETING, which
// the programs installed in tests print to show pip installed it.
const (
	DemoWheelName = "demo-0.1-py3-none-any.whl"
	DemoValue     = "demo-ok"
	DemoGreeting  = "greetings from the demo wheel"
)

// WriteDemoWheel writes dir/DemoWheelName, a minimal wheel (with a RECORD of
// real hashes, so pip checks it as any other) of a package demo, making dir
// if needed, and returns the wheel's bytes.
func WriteDemoWheel(t testing.TB, dir string) []byte {
	t.Helper()
	files := []struct{ name, body string }{
		{"demo/__init__.py", fmt.Sprintf("VALUE = %q\nGREETING = %q\n", DemoValue, DemoGreeting)},
		{"demo-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 0.1\n"},
		{"demo-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: pyvisor-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	record.WriteString("demo-0.1.dist-info/RECORD,,\n")
	files = append(files, struct{ name, body string }{"demo-0.1.dist-info/RECORD", record.String()})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			t.Fatalf("demo wheel: zip entry %s: %v", f.name, err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatalf("demo wheel: zip entry %s: %v", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("demo wheel: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make %s: %v", dir, err)
	}
	path := filepath.Join(dir, DemoWheelName)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return buf.Bytes()
}
