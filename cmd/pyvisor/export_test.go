package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportSystemd runs `pyvisor export systemd` on a project and checks the files it wrote, what it
// printed, and that the warnings went to stderr.
func TestExportSystemd(t *testing.T) {
	dir := writeProject(t, `
programs:
  - name: one
    script: sleeper.py
    environment: {SECRET_TOKEN: hunter2}
    restart: {broken_cooldown_seconds: 30}
  - {name: two words, script: sleeper.py, enabled: false}
  - {name: pool, script: sleeper.py, instances: 2}
  - {name: nightly, script: sleeper.py, schedule: "0 3 * * *"}
`)
	out := filepath.Join(t.TempDir(), "units")
	var stdout, stderr bytes.Buffer
	if code := runIn(t, dir, &stdout, &stderr, "export", "systemd", "--out", out, "--prefix", "app-"); code != 0 {
		t.Fatalf("export systemd: exit %d, stderr %s", code, stderr.String())
	}
	one := filepath.Join(out, "app-one.service")
	two := filepath.Join(out, `app-two\x20words.service`)
	for _, path := range []string{one, two} {
		if !strings.Contains(stdout.String(), "wrote "+path) {
			t.Errorf("stdout does not say it wrote %s:\n%s", path, stdout.String())
		}
	}
	if !strings.Contains(stdout.String(), "systemctl enable --now app-one.service app-pool@1.service app-pool@2.service app-nightly.timer\n") {
		t.Errorf("stdout lacks the enable command for the enabled programs only, with the template's instances and the job's timer:\n%s", stdout.String())
	}
	for _, name := range []string{"app-pool@.service", "app-nightly.service", "app-nightly.timer"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("export systemd did not write %s: %v", name, err)
		}
	}
	unit, err := os.ReadFile(one)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ExecStart="python3" "` + filepath.Join(dir, "sleeper.py") + `"`, "WorkingDirectory=" + dir,
		`Environment="SECRET_TOKEN=hunter2"`, "StandardOutput=append:" + filepath.Join(dir, "log", "one.log"),
		"# Not carried over exactly:", "broken_cooldown_seconds",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("%s lacks %q:\n%s", one, want, unit)
		}
	}
	for _, want := range []string{`warning: program "one": restart.broken_cooldown_seconds`, `warning: program "one": environment`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestExportNomad runs `pyvisor export nomad` both ways: HCL with the warnings as comments, and JSON.
func TestExportNomad(t *testing.T) {
	dir := writeProject(t, "programs:\n  - {name: one, script: sleeper.py, exit_codes: [0]}\n")
	var stdout, stderr bytes.Buffer
	if code := runIn(t, dir, &stdout, &stderr, "export", "nomad", "--datacenter", "eu1"); code != 0 {
		t.Fatalf("export nomad: exit %d, stderr %s", code, stderr.String())
	}
	hcl := stdout.String()
	for _, want := range []string{`job "pyvisor" {`, `datacenters = ["eu1"]`, `group "one" {`, `driver = "raw_exec"`, "#   - program \"one\": exit_codes:"} {
		if !strings.Contains(hcl, want) {
			t.Errorf("HCL lacks %q:\n%s", want, hcl)
		}
	}
	if !strings.Contains(stderr.String(), `warning: program "one": exit_codes`) {
		t.Errorf("stderr lacks the exit_codes warning:\n%s", stderr.String())
	}
	stdout.Reset()
	if code := runIn(t, dir, &stdout, &stderr, "export", "-c", filepath.Join(dir, "process_manager.yaml"), "nomad", "--json"); code != 0 {
		t.Fatalf("export nomad --json: exit %d, stderr %s", code, stderr.String())
	}
	var doc struct {
		Job struct {
			ID         string
			TaskGroups []struct{ Name string }
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || doc.Job.ID != "pyvisor" || len(doc.Job.TaskGroups) != 1 {
		t.Errorf("export nomad --json printed %s (decoded %+v, %v); want a job with one group", stdout.String(), doc, err)
	}
}

// TestExportNomadJobs checks that a job of the configuration becomes a periodic job of its own: printed
// one after the other, or written one file each with --out.
func TestExportNomadJobs(t *testing.T) {
	dir := writeProject(t, "programs:\n  - {name: one, script: sleeper.py}\n  - {name: nightly, script: sleeper.py, schedule: '0 3 * * *', timezone: UTC}\n")
	var stdout, stderr bytes.Buffer
	if code := runIn(t, dir, &stdout, &stderr, "export", "nomad", "--json"); code != 0 {
		t.Fatalf("export nomad --json: exit %d, stderr %s", code, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	var ids []string
	for dec.More() {
		var doc struct{ Job struct{ ID, Type string } }
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("decode the printed jobs: %v", err)
		}
		ids = append(ids, doc.Job.ID+" "+doc.Job.Type)
	}
	if strings.Join(ids, ", ") != "pyvisor service, pyvisor-nightly batch" {
		t.Errorf("export nomad --json printed jobs %q; want pyvisor (service) and pyvisor-nightly (batch)", ids)
	}
	if !strings.Contains(stderr.String(), "--out DIR") {
		t.Errorf("stderr does not say that nomad job run takes one job per file:\n%s", stderr.String())
	}
	out := filepath.Join(t.TempDir(), "jobs")
	stdout.Reset()
	if code := runIn(t, dir, &stdout, &stderr, "export", "nomad", "--out", out); code != 0 {
		t.Fatalf("export nomad --out: exit %d, stderr %s", code, stderr.String())
	}
	hcl, err := os.ReadFile(filepath.Join(out, "pyvisor-nightly.nomad.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`job "pyvisor-nightly" {`, `crons = ["0 3 * * *"]`, `time_zone = "UTC"`, "prohibit_overlap = true"} {
		if !strings.Contains(string(hcl), want) {
			t.Errorf("pyvisor-nightly.nomad.hcl lacks %q:\n%s", want, hcl)
		}
	}
	if want := "nomad job run " + filepath.Join(out, "pyvisor.nomad.hcl"); !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
	}
}

// TestExportUsage checks the exit status of a wrong invocation and of an invalid configuration.
func TestExportUsage(t *testing.T) {
	dir := writeProject(t, "programs:\n  - {name: one}\n")
	for _, args := range [][]string{{"export"}, {"export", "docker"}, {"export", "systemd", "--bogus"}, {"export", "nomad"}} {
		var stdout, stderr bytes.Buffer
		if code := runIn(t, dir, &stdout, &stderr, args...); code != 2 {
			t.Errorf("pyvisor %s: exit %d, want 2; stderr %s", strings.Join(args, " "), code, stderr.String())
		}
	}
}
