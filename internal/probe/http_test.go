package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// scriptedServer answers each connection with the parts of answer, written one by one with a pause between
// them so that the client reads them apart, after reading the request's head. With hold, it keeps the
// connection open afterwards until the client closes it. It returns its address and a channel that gets
// each request's head.
func scriptedServer(t *testing.T, answer []string, hold bool) (string, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	heads := make(chan string, 10)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					head.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				heads <- head.String()
				for i, part := range answer {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					if _, err := conn.Write([]byte(part)); err != nil {
						return
					}
				}
				if hold {
					_, _ = br.ReadString(0) // until the client closes
				}
			}()
		}
	}()
	return l.Addr().String(), heads
}

func TestPlainHTTPAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer []string
		hold   bool // the server keeps the connection open after its answer
		ok     bool
		detail string
	}{
		{"status line split over reads", []string{"HTT", "P/1.1 2", "04 No Content\r", "\nServer: x\r\n\r\n"}, false, true, ""},
		{"HTTP/1.0 with a body to the end of the connection", []string{"HTTP/1.0 200 OK\r\n\r\nfine, thanks"}, false, true, ""},
		{"interim answers are skipped", []string{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}, false, true, ""},
		{"a 503 after an interim answer", []string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\n\r\n"}, false, false, "HTTP 503 Service Unavailable"},
		{"a 301 is not followed", []string{"HTTP/1.1 301 Moved Permanently\r\nLocation: http://" + closedAddr(t) + "/\r\nContent-Length: 0\r\n\r\n"}, false, true, ""},
		{"a 500 with its text", []string{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"}, false, false, "HTTP 500 Internal Server Error"},
		{"a status without its text", []string{"HTTP/1.1 404\r\n\r\n"}, false, false, "HTTP 404"},
		{"a server that ignores Connection: close", []string{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, true, true, ""},
		{"garbage", []string{"SSH-2.0-OpenSSH_9.2\r\n"}, false, false, `not an HTTP answer: "SSH-2.0-OpenSSH_9.2"`},
		{"a code that is not a number", []string{"HTTP/1.1 2x0 OK\r\n\r\n"}, false, false, "not an HTTP answer"},
		{"a status line longer than the buffer", []string{"HTTP/1.1 200 " + strings.Repeat("O", 2000) + "K\r\n\r\n"}, false, false, "a status line longer than"},
		{"a header line longer than the buffer", []string{"HTTP/1.1 200 OK\r\nContent-Security-Policy: " + strings.Repeat("x", 5000) + "\r\nContent-Length: 0\r\n\r\n"}, true, true, ""},
		{"closed halfway through the status line", []string{"HTTP/1.1 20"}, false, false, `not an HTTP answer: "HTTP/1.1 20", then the connection closed`},
		{"closed without an answer", nil, false, false, "the connection closed before an answer"},
		{"never answers", nil, true, false, "no answer within 300ms"},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := scriptedServer(t, tt.answer, tt.hold)
			// Only a server that never answers needs a short timeout.
			timeout := 10 * time.Second
			if tt.name == "never answers" {
				timeout = 300 * time.Millisecond
			}
			if tt.hold && tt.ok {
				// Long enough that the check would hang the test if it waited for the connection to close.
				timeout = time.Hour
			}
			got := p.HTTP(t.Context(), "http://"+addr+"/healthz", timeout)
			if got.OK != tt.ok || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("HTTP() answered %q = %+v, want OK %t and a detail with %q", strings.Join(tt.answer, ""), got, tt.ok, tt.detail)
			}
		})
	}
}

func TestPlainHTTPRequest(t *testing.T) {
	addr, heads := scriptedServer(t, []string{"HTTP/1.1 200 OK\r\n\r\n"}, false)
	_, port, _ := net.SplitHostPort(addr)
	got := New().HTTP(t.Context(), "http://check:s3cret@localhost:"+port+"/health/z?deep=1&x=a%20b", time.Second)
	if !got.OK {
		t.Fatalf("HTTP() = %+v, want OK", got)
	}
	head := <-heads
	for _, want := range []string{
		"GET /health/z?deep=1&x=a%20b HTTP/1.1\r\n",
		"\r\nHost: localhost:" + port + "\r\n",
		"\r\nUser-Agent: pyvisor-health-check\r\n",
		"\r\nAuthorization: Basic Y2hlY2s6czNjcmV0\r\n", // check:s3cret
		"\r\nConnection: close\r\n",
	} {
		if !strings.Contains(head, want) {
			t.Errorf("the request sent is %q, want it to contain %q", head, want)
		}
	}
}

func TestPlainHTTPCanceled(t *testing.T) {
	addr, heads := scriptedServer(t, nil, true)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-heads // the request is sent: the check waits for the answer
		cancel()
	}()
	if got := New().HTTP(ctx, "http://"+addr+"/", time.Hour); got.OK || got.Detail != "canceled" {
		t.Errorf("HTTP() canceled while waiting for the answer = %+v, want a failure saying canceled", got)
	}
}

// TestServeForBenchmark is the server of BenchmarkCheck, in a process of its own so that its allocations
// are not counted as the checks'. It does nothing unless the benchmark runs it.
func TestServeForBenchmark(t *testing.T) {
	if os.Getenv("PROBE_BENCH_SERVER") == "" {
		t.Skip("only the server of BenchmarkCheck")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(l.Addr())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // ends with the benchmark
	_ = http.Serve(l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
}

// BenchmarkCheck measures one check against a server on loopback, with its allocations: checks of many
// programs are a good part of an idle manager's work.
func BenchmarkCheck(b *testing.B) {
	srv := exec.Command(os.Args[0], "-test.run=^TestServeForBenchmark$")
	srv.Env = append(os.Environ(), "PROBE_BENCH_SERVER=1")
	stdin, err := srv.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := srv.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = srv.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("the server said %q: %v", line, err)
	}
	addr := strings.TrimSpace(line)
	p := New()
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := p.HTTP(b.Context(), "http://"+addr+"/healthz", time.Second); !res.OK {
				b.Fatal(res)
			}
		}
	})
	b.Run("tcp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := p.TCP(b.Context(), addr, time.Second); !res.OK {
				b.Fatal(res)
			}
		}
	})
}
