package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestStaticFiles(t *testing.T) {
	f := newFixture(t, baseConfig)
	cases := []struct {
		target, file, contentType string
	}{
		{"/", "index.html", "text/html; charset=utf-8"},
		{"/index.html", "index.html", "text/html; charset=utf-8"},
		{"/app.css", "app.css", "text/css; charset=utf-8"},
		{"/api.js", "api.js", "text/javascript; charset=utf-8"},
		{"/render.js", "render.js", "text/javascript; charset=utf-8"},
		{"/main.js", "main.js", "text/javascript; charset=utf-8"},
		{"/upload.js", "upload.js", "text/javascript; charset=utf-8"},
		{"/reload.js", "reload.js", "text/javascript; charset=utf-8"},
		{"/logsearch.js", "logsearch.js", "text/javascript; charset=utf-8"},
	}
	for _, c := range cases {
		want, err := staticFiles.ReadFile("static/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, gz := range []bool{false, true} {
			name := c.target
			var hdr []string
			if gz {
				name += " gzip"
				hdr = []string{"Accept-Encoding", "br, gzip;q=0.8"}
			}
			t.Run(name, func(t *testing.T) {
				call := "GET " + c.target
				r := f.do(t, "GET", c.target, nil, hdr...)
				if r.status != 200 {
					t.Fatalf("%s = %d %s, want 200", call, r.status, r.body)
				}
				for k, v := range map[string]string{"Content-Type": c.contentType, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"} {
					if got := r.header.Get(k); got != v {
						t.Errorf("%s: %s = %q, want %q", call, k, got, v)
					}
				}
				body := []byte(r.body)
				if enc := r.header.Get("Content-Encoding"); gz != (enc == "gzip") {
					t.Fatalf("%s with gzip accepted=%v: Content-Encoding %q", call, gz, enc)
				}
				if gz {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Fatalf("%s: gzip body: %v", call, err)
					}
					if body, err = io.ReadAll(zr); err != nil {
						t.Fatalf("%s: gzip body: %v", call, err)
					}
					if len(r.body) >= len(want) {
						t.Errorf("%s: compressed %d bytes, not less than the %d of the file", call, len(r.body), len(want))
					}
				}
				if !bytes.Equal(body, want) {
					t.Errorf("%s: body differs from the embedded %s", call, c.file)
				}
				etag := r.header.Get("ETag")
				again := f.do(t, "GET", c.target, nil, append(hdr, "If-None-Match", etag)...)
				if etag == "" || again.status != 304 || again.body != "" {
					t.Errorf("%s with If-None-Match %q = %d %q, want 304 and no body", call, etag, again.status, again.body)
				}
			})
		}
	}
	t.Run("ETags differ per encoding", func(t *testing.T) {
		plain := f.do(t, "GET", "/main.js", nil).header.Get("ETag")
		gz := f.do(t, "GET", "/main.js", nil, "Accept-Encoding", "gzip").header.Get("ETag")
		stale := f.do(t, "GET", "/main.js", nil, "Accept-Encoding", "gzip", "If-None-Match", plain)
		if plain == gz || stale.status != 200 {
			t.Errorf("GET /main.js: ETags %q (plain) and %q (gzip); a gzip request with the plain ETag got %d, want 200", plain, gz, stale.status)
		}
	})
}

func TestAcceptsGzip(t *testing.T) {
	cases := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"identity", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0.001", true},
		{"*", true},
		{"x-gzip", true},
		{"deflate, gzipped", false},
	}
	for _, c := range cases {
		if got := acceptsGzip(c.header); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

// TestDashboardWeight keeps the dashboard small: HTML, CSS and JS together
// under 120 KB uncompressed, enough for the cards, the table of many
// programs, a program's page and the log viewer, and still one small fetch each.
func TestDashboardWeight(t *testing.T) {
	total := 0
	fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := staticFiles.ReadFile(p)
			total += len(data)
		}
		return err
	})
	if total == 0 || total >= 120_000 {
		t.Errorf("embedded static files total %d bytes, want between 1 and 120000", total)
	}
}

// TestDashboardSafety checks the rules the dashboard's code keeps by
// construction: no HTML parsing of data, nothing the CSP would block, and the
// hooks the browser tests drive.
func TestDashboardSafety(t *testing.T) {
	read := func(name string) string {
		data, err := staticFiles.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	scripts, err := fs.Glob(staticFiles, "static/*.js")
	if err != nil || len(scripts) < 5 {
		t.Fatalf("the dashboard's scripts: %q, %v; want api.js, render.js, main.js, upload.js, reload.js", scripts, err)
	}
	for _, js := range scripts {
		js = strings.TrimPrefix(js, "static/")
		src := read(js)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "style="} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", js, bad)
			}
		}
	}
	html := read("index.html")
	if regexp.MustCompile(`<script[^>]*>\s*[^<\s]`).MatchString(html) || strings.Contains(html, "<style") ||
		regexp.MustCompile(`\s(?:style|on[a-z]+)=`).MatchString(html) {
		t.Errorf("index.html has inline script, style or event handlers, which the CSP blocks")
	}
	all := html + read("render.js") + read("main.js") + read("upload.js") + read("reload.js")
	for _, hook := range []string{`data-program`, `'data-field': 'state'`, `data-modal="logs"`, `data-field="lines"`,
		`data-page="first"`, `data-page="prev"`, `data-page="next"`, `data-page="last"`, `data-field="follow"`,
		`data-field="filter"`, `'data-action'`, `'start', 'stop', 'restart', 'logs'`,
		`data-action="upload"`, `data-modal="upload"`, `data-field="upload-error"`, `accept=".zip"`,
		`'update', 'remove'`, `confirm(`, `data-action="reload"`, `data-field="reload-msg"`, `data-field="reload-text"`} {
		if !strings.Contains(all, hook) {
			t.Errorf("the dashboard lacks the hook %s", hook)
		}
	}
}
