package testkit

import (
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
	files := []ZipEntry{
		{Name: "demo/__init__.py", Body: fmt.Sprintf("VALUE = %q\nGREETING = %q\n", DemoValue, DemoGreeting)},
		{Name: "demo-0.1.dist-info/METADATA", Body: "Metadata-Version: 2.1\nName: demo\nVersion: 0.1\n"},
		{Name: "demo-0.1.dist-info/WHEEL", Body: "Wheel-Version: 1.0\nGenerator: pyvisor-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.Body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Body))
	}
	record.WriteString("demo-0.1.dist-info/RECORD,,\n")
	files = append(files, ZipEntry{Name: "demo-0.1.dist-info/RECORD", Body: record.String()})
	data := Zip(t, files...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make %s: %v", dir, err)
	}
	path := filepath.Join(dir, DemoWheelName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return data
}
