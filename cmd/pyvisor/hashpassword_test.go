package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
	"golang.org/x/crypto/bcrypt"
)

// TestHashPasswordOnTerminal runs hash-password on a terminal, the pseudo
// terminal script(1) gives it: it asks twice, does not echo what is typed,
// and prints a bcrypt hash of it; two different answers are refused.
func TestHashPasswordOnTerminal(t *testing.T) {
	scriptPath, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is needed to give the command a terminal")
	}
	bin := binary(t)
	type answer struct{ prompt, typed string }
	run := func(answers ...answer) (string, error) {
		t.Helper()
		// -e: script's exit status is the command's; -q: no banner.
		cmd := exec.Command(scriptPath, "-qec", bin+" hash-password", "/dev/null")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out := &testkit.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for _, a := range answers {
			// Type only once the prompt shows: by then echo is off, and the
			// terminal does not echo what arrives (typed earlier, it would).
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(out.String(), a.prompt) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("hash-password on a terminal never asked %q; output:\n%s", a.prompt, out)
				}
				time.Sleep(10 * time.Millisecond) // output gives no notice
			}
			in.Write([]byte(a.typed + "\n"))
		}
		in.Close()
		err = cmd.Wait()
		return out.String(), err
	}

	const password = "typed on a terminal"
	out, err := run(answer{"Password: ", password}, answer{"Again: ", password})
	hash := regexp.MustCompile(`\$2a\$12\$[./A-Za-z0-9]{53}`).FindString(out)
	switch {
	case err != nil:
		t.Fatalf("hash-password on a terminal: %v; output:\n%s", err, out)
	case strings.Contains(out, password):
		t.Errorf("hash-password echoed the password on the terminal:\n%s", out)
	case hash == "":
		t.Errorf("hash-password on a terminal printed no bcrypt hash of cost 12:\n%s", out)
	case bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil:
		t.Errorf("hash-password printed %s, which is not a hash of the typed password", hash)
	}

	out, err = run(answer{"Password: ", password}, answer{"Again: ", password + "!"})
	if err == nil || !strings.Contains(out, "the two passwords differ") {
		t.Errorf("hash-password with two different answers: %v; output:\n%s\nwant a failure saying they differ", err, out)
	}
}
