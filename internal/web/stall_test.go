package web

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStalledBodyIsCutOff sends requests that announce a body and stop
// sending it: the server must not wait for the rest forever, neither in a
// handler that reads the body (the login) nor for a request it refuses before
// any handler (no credentials). It answers once bodyTimeout has passed.
func TestStalledBodyIsCutOff(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	for _, path := range []string{"/login", "/api/programs/sleeper/start"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", strings.TrimPrefix(af.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
				"Content-Length: 1000\r\n\r\nusername=a", path)
			// Generous: the server's deadline is bodyTimeout; this one only keeps
			// a server that never answers from hanging the test.
			conn.SetReadDeadline(time.Now().Add(bodyTimeout + time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("POST %s with a stalled body: no answer (%v); want one once bodyTimeout has passed", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("POST %s with a stalled body = %d, want an error status", path, resp.StatusCode)
			}
		})
	}
}
