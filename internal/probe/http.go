package probe

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// userAgent names pyvisor's checks in the access logs of the programs they ask.
const userAgent = "pyvisor-health-check"

// maxBody bounds what is read of an answer's body: the short answers of health endpoints are read whole, so
// that closing the connection resets no server still writing them; a long one is not waited for.
const maxBody = 4096

// maxAnswer bounds what is read of an answer in all: the status line must come within it, and the rest
// is read only to close the connection cleanly.
const maxAnswer = 64 << 10

// errNeedMore is an answer read so far that ends before what parseAnswer needs.
var errNeedMore = errors.New("the answer read so far is incomplete")

// answerParser decides plain HTTP checks from their answers. Made once and used for answer after answer,
// it allocates nothing of its own. It is not safe for concurrent use.
type answerParser struct {
	br    *bufio.Reader
	sofar answerSoFar
}

func newAnswerParser() *answerParser {
	p := &answerParser{}
	p.br = bufio.NewReaderSize(&p.sofar, 1024)
	return p
}

// parse decides a check from the answer read so far, answer; ended says that nothing more will come (the
// connection ended, or maxAnswer was read). It returns done false while more is needed: the final status
// line, the headers, and the body up to its Content-Length or the end of the connection, at most maxBody
// of it. The status decides; whatever follows is only waited for so that closing the connection resets
// no server still writing it.
func (p *answerParser) parse(answer []byte, ended bool) (res Result, done bool) {
	p.sofar = answerSoFar{rest: answer, ended: ended}
	p.br.Reset(&p.sofar)
	code, status, err := readStatus(p.br)
	switch {
	case errors.Is(err, errNeedMore):
		return Result{}, false
	case err != nil:
		return Result{Detail: err.Error()}, true
	}
	length, err := skipHeaders(p.br)
	if err == nil {
		if length < 0 || length > maxBody {
			length = maxBody
		}
		_, err = p.br.Discard(int(length))
	}
	if errors.Is(err, errNeedMore) {
		return Result{}, false
	}
	return verdict(code, status), true
}

// answerSoFar reads the answer read so far, then io.EOF if it ended or errNeedMore if more may come.
type answerSoFar struct {
	rest  []byte
	ended bool
}

func (a *answerSoFar) Read(p []byte) (int, error) {
	if len(a.rest) == 0 {
		if a.ended {
			return 0, io.EOF
		}
		return 0, errNeedMore
	}
	n := copy(p, a.rest)
	a.rest = a.rest[n:]
	return n, nil
}

// request is the GET of a check of u.
func request(u *url.URL) string {
	var b strings.Builder
	b.WriteString("GET ")
	b.WriteString(u.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(u.Host)
	b.WriteString("\r\nUser-Agent: " + userAgent + "\r\n")
	if u.User != nil {
		// As net/http's client does with a URL's user and password.
		password, _ := u.User.Password()
		b.WriteString("Authorization: Basic ")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + password)))
		b.WriteString("\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// errMalformed is an answer that is not HTTP/1.x.
var errMalformed = errors.New("not an HTTP answer")

// readStatus reads the status line of the final answer: interim ones (1xx but 101) are skipped with their
// headers. It returns the code and the status as net/http writes it ("503 Service Unavailable").
func readStatus(br *bufio.Reader) (int, string, error) {
	for {
		line, err := readLine(br)
		switch {
		case errors.Is(err, errLong):
			return 0, "", fmt.Errorf("%w: a status line longer than %d bytes", errMalformed, br.Size())
		case errors.Is(err, io.EOF) && len(line) == 0:
			return 0, "", errors.New("the connection closed before an answer")
		case errors.Is(err, io.EOF):
			return 0, "", fmt.Errorf("%w: %q, then the connection closed", errMalformed, shorten(line, 60))
		case err != nil:
			return 0, "", err
		}
		proto, status, _ := bytes.Cut(line, []byte(" "))
		code, err := strconv.Atoi(string(status[:min(3, len(status))]))
		if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(proto) != 8 || len(status) < 3 || err != nil ||
			code < 100 || code > 999 || (len(status) > 3 && status[3] != ' ') {
			return 0, "", fmt.Errorf("%w: %q", errMalformed, shorten(line, 60))
		}
		if code >= 200 || code == 101 {
			return code, shorten(status, 100), nil
		}
		if _, err := skipHeaders(br); err != nil {
			return 0, "", err
		}
	}
}

// skipHeaders reads the header lines up to the blank line that ends them, and returns the value of
// Content-Length, or -1 when there is none (or it is no number). Lines longer than the reader's buffer are
// skipped: only the status line has to fit.
func skipHeaders(br *bufio.Reader) (int64, error) {
	length := int64(-1)
	for {
		line, err := readLine(br)
		if errors.Is(err, errLong) {
			err = skipLine(br)
			line = []byte("-")
		}
		if err != nil {
			return length, err
		}
		if len(line) == 0 {
			return length, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(name), "Content-Length") {
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64); err == nil && n >= 0 {
				length = n
			}
		}
	}
}

// errLong is a line longer than the reader's buffer.
var errLong = errors.New("a line longer than the buffer")

// readLine returns the next line without its line end ("\r\n" or "\n"), or errLong when it is longer
// than the reader's buffer.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errLong
	}
	if err != nil {
		return line, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// skipLine reads the rest of a line that did not fit the buffer.
func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// verdict is the outcome of an answer with the HTTP status code and status ("503 Service Unavailable").
func verdict(code int, status string) Result {
	if code < 200 || code > 399 {
		return Result{Detail: "HTTP " + status}
	}
	return Result{OK: true}
}

// shorten returns b as valid UTF-8 of at most n bytes, "..." marking a cut.
func shorten(b []byte, n int) string {
	if len(b) > n {
		return strings.ToValidUTF8(string(b[:n]), "?") + "..."
	}
	return strings.ToValidUTF8(string(b), "?")
}
