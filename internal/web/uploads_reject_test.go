package web

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/install"
)

// randomBytes is n bytes that do not compress, the same on every run.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestUploadRejected sends bad uploads: each gets its 4xx with a message that
// says what is wrong, leaves nothing in the uploads directory, and the manager
// goes on working.
func TestUploadRejected(t *testing.T) {
	const maxZip = 64 << 10
	f := newUploadFixture(t, uploadConfig, UploadOptions{
		MaxZipBytes: maxZip,
		Limits:      install.Limits{MaxEntries: 20, MaxUncompressed: 256 << 10},
	})
	good := appZip(t, "", "v1")
	r := f.send(t, "POST", "/api/programs", []field{{"name", "taken"}, {"script", "main.py"}}, good)
	if r.status != 201 {
		t.Fatalf("POST /api/programs (name taken) = %d %s, want 201", r.status, r.body)
	}
	f.settled(t, "taken")

	form := func(name string) []field { return []field{{"name", name}, {"script", "main.py"}} }
	body, ct := multipartBody(t, form("x"), good)
	big := zipOf(t, zipEntry{name: "main.py", body: "print(1)\n"}, zipEntry{name: "noise.bin", body: string(randomBytes(maxZip))})
	bigBody, bigCT := multipartBody(t, form("x"), big)
	var many []zipEntry
	for i := range 21 {
		many = append(many, zipEntry{name: fmt.Sprintf("f%02d.py", i), body: "x"})
	}
	cases := []struct {
		name   string
		fields []field
		zip    []byte
		// raw, if set, is the body instead of the form of fields and zip.
		raw    func() (io.Reader, string)
		status int
		msg    string
	}{
		{name: "name with a slash", fields: form("a/b"), zip: good, status: 400, msg: `contains "/"`},
		{name: "name ..", fields: form(".."), zip: good, status: 400, msg: `starts with "."`},
		{name: "name of a leftover", fields: form(".old-x"), zip: good, status: 400, msg: `starts with "."`},
		{name: "script in home", fields: []field{{"name", "x"}, {"script", "~/main.py"}},
			// Two top-level entries, so that the folder "~" is not flattened away.
			zip:    zipOf(t, zipEntry{name: "~/main.py", body: "x"}, zipEntry{name: "other.py", body: "y"}),
			status: 400, msg: `starts with "~"`},
		{name: "name with a control character", fields: form("a\x07b"), zip: good, status: 400, msg: "control character"},
		{name: "name of 65 bytes", fields: form(strings.Repeat("n", 65)), zip: good, status: 400, msg: "more than 64"},
		{name: "no name", fields: []field{{"script", "main.py"}}, zip: good, status: 400, msg: "name is empty"},
		{name: "name of a config program", fields: form("sleeper"), zip: good, status: 409, msg: "configuration file"},
		{name: "name of an uploaded program", fields: form("taken"), zip: good, status: 409, msg: "use Update"},
		{name: "not a ZIP", fields: form("x"), zip: []byte("just some text"), status: 400, msg: "not a ZIP"},
		{name: "empty ZIP", fields: form("x"), zip: zipOf(t), status: 400, msg: "contains no files"},
		{name: "entry with ..", fields: form("x"), zip: appZip(t, "", "v1", zipEntry{name: "../evil.py", body: "x"}),
			status: 400, msg: `"../evil.py"`},
		{name: "absolute entry", fields: form("x"), zip: appZip(t, "", "v1", zipEntry{name: "/tmp/evil.py", body: "x"}),
			status: 400, msg: `"/tmp/evil.py": is an absolute path`},
		{name: "symlink entry", fields: form("x"),
			zip:    appZip(t, "", "v1", zipEntry{name: "passwd", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}),
			status: 400, msg: `"passwd": is a symbolic link`},
		{name: "more entries than allowed", fields: form("x"), zip: zipOf(t, many...), status: 400, msg: "more than the limit of 20"},
		{name: "zip bomb", fields: form("x"),
			zip:    appZip(t, "", "v1", zipEntry{name: "zeros", body: strings.Repeat("\x00", 1<<20)}),
			status: 400, msg: "over the limit"},
		{name: "script missing from the ZIP", fields: []field{{"name", "x"}, {"script", "nope.py"}}, zip: good,
			status: 400, msg: `"nope.py": the script is not in the ZIP`},
		{name: "no script", fields: []field{{"name", "x"}}, zip: good, status: 400, msg: "no script given"},
		{name: "no file part", fields: form("x"), status: 400, msg: `lacks the field "file"`},
		{name: "ZIP over the limit", fields: form("x"), zip: big, status: 413, msg: "limit of 64 KiB"},
		{name: "ZIP over the limit, length not announced", raw: func() (io.Reader, string) {
			return io.MultiReader(bytes.NewReader(bigBody)), bigCT // hides the length
		}, status: 413, msg: "limit of 64 KiB"},
		{name: "announced length over the limit", raw: func() (io.Reader, string) {
			return bytes.NewReader(make([]byte, maxZip+formOverhead+1)), ct
		}, status: 413, msg: "limit of 64 KiB"},
		{name: "not multipart", raw: func() (io.Reader, string) {
			return strings.NewReader(`{"name": "x"}`), "application/json"
		}, status: 400, msg: "multipart/form-data"},
		{name: "unknown field", fields: append(form("x"), field{"colour", "red"}), zip: good, status: 400, msg: `unknown field "colour"`},
		{name: "field given twice", fields: append(form("x"), field{"name", "y"}), zip: good, status: 400, msg: "given twice"},
		{name: "bad autostart", fields: append(form("x"), field{"autostart", "maybe"}), zip: good, status: 400, msg: `autostart is "maybe"`},
		{name: "body cut off", raw: func() (io.Reader, string) {
			return bytes.NewReader(body[:len(body)-200]), ct
		}, status: 400, msg: "cut off"},
		{name: "body read fails", raw: func() (io.Reader, string) {
			return io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{io.ErrUnexpectedEOF}), ct
		}, status: 400, msg: "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call := "POST /api/programs (" + c.name + ")"
			var r response
			if c.raw != nil {
				b, ct := c.raw()
				r = f.do(t, "POST", "/api/programs", b, "Content-Type", ct)
			} else {
				r = f.send(t, "POST", "/api/programs", c.fields, c.zip)
			}
			msg := decode[api.Error](t, call, r).Error
			if r.status != c.status || !strings.Contains(msg, c.msg) {
				t.Errorf("%s = %d %q, want %d with %q", call, r.status, msg, c.status, c.msg)
			}
			if left := f.leftovers(t, "taken"); len(left) > 0 {
				t.Errorf("%s left in %s: %q", call, f.sup.UploadsDir(), left)
			}
			if _, err := f.sup.Status("x"); err == nil {
				t.Errorf("%s added the program x", call)
			}
			f.healthy(t, call)
		})
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestUploadConnectionCut sends half an upload over a real connection and
// hangs up: the temporary file the handler was writing must go.
func TestUploadConnectionCut(t *testing.T) {
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	dh := &doneHandler{h: f.h, done: make(chan int, 1)}
	srv := serve(t, dh)
	body, ct := multipartBody(t, []field{{"name", "cut"}, {"script", "main.py"}},
		zipOf(t, zipEntry{name: "main.py", body: "print(1)\n"}, zipEntry{name: "noise.bin", body: string(randomBytes(1 << 20))}))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/programs HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(body))
	if _, err := conn.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	// Hang up only once the handler is writing the ZIP to its temporary file,
	// so that there is something to clean up.
	waitUntil(t, "a temporary file in the uploads directory", func() bool { return len(f.leftovers(t)) > 0 },
		func() string { return fmt.Sprintf("it holds %q", f.leftovers(t)) })
	conn.Close()
	select {
	case status := <-dh.done:
		if status < 400 || status > 499 {
			t.Errorf("POST /api/programs cut off half-way: status %d, want a 4xx", status)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("POST /api/programs cut off half-way: the handler did not return within 20 s")
	}
	if left := f.leftovers(t); len(left) > 0 {
		t.Errorf("POST /api/programs cut off half-way left in %s: %q", f.sup.UploadsDir(), left)
	}
	f.healthy(t, "an upload cut off")
}

// TestUploadConcurrent sends uploads that compete for one program at the same
// moment: exactly one wins, the others get 409, and only the winner's files stay.
func TestUploadConcurrent(t *testing.T) {
	cases := []struct {
		name  string
		names []string
	}{
		{"one name four times", []string{"race", "race", "race", "race"}},
		{"two names of one directory", []string{"twin app", "twin_app"}},
	}
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	var kept []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			type req struct {
				body []byte
				ct   string
			}
			reqs := make([]req, len(c.names))
			for i, name := range c.names {
				reqs[i].body, reqs[i].ct = multipartBody(t, []field{{"name", name}, {"script", "main.py"}}, appZip(t, "", "v1"))
			}
			results := make([]response, len(c.names))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range reqs {
				wg.Go(func() {
					<-start
					results[i] = f.do(t, "POST", "/api/programs", bytes.NewReader(reqs[i].body), "Content-Type", reqs[i].ct)
				})
			}
			close(start)
			wg.Wait()
			winner := ""
			var statuses []int
			for i, r := range results {
				statuses = append(statuses, r.status)
				switch r.status {
				case http.StatusCreated:
					if winner != "" {
						t.Errorf("two uploads won: %q and %q", winner, c.names[i])
					}
					winner = c.names[i]
				case http.StatusConflict:
				default:
					t.Errorf("POST /api/programs (name %q) = %d %s, want 201 or 409", c.names[i], r.status, r.body)
				}
			}
			if winner == "" {
				t.Fatalf("concurrent uploads of %q: statuses %v, want one 201", c.names, statuses)
			}
			f.settled(t, winner)
			kept = append(kept, install.DirName(winner))
			if left := f.leftovers(t, kept...); len(left) > 0 {
				t.Errorf("concurrent uploads of %q left in %s: %q", c.names, f.sup.UploadsDir(), left)
			}
			if _, err := os.Stat(f.sup.UploadsDir() + "/" + install.DirName(winner) + "/main.py"); err != nil {
				t.Errorf("the winner's files: %v", err)
			}
		})
	}
}
