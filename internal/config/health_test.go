package config

import (
	"slices"
	"testing"
	"time"
)

// TestHealthCheckLoad checks the decoding of health_check and depends_on, defaults included.
func TestHealthCheckLoad(t *testing.T) {
	c := mustLoad(t, `
programs:
  - name: db
    script: db.py
    health_check:
      tcp: "127.0.0.1:5432"
  - name: web
    script: web.py
    depends_on: [db]
    health_check:
      http: "http://127.0.0.1:8080/healthz"
      interval_seconds: 5
      timeout_seconds: 1.5
      failures: 2
      start_period_seconds: 30
  - name: job
    script: job.py
    depends_on: [db, web]
    health_check:
      command: python check.py --quick
`)
	db, web, job := c.Programs[0], c.Programs[1], c.Programs[2]
	want := HealthCheck{TCP: "127.0.0.1:5432", Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3}
	if db.HealthCheck == nil || !equalCheck(*db.HealthCheck, want) {
		t.Errorf("db.HealthCheck = %+v, want the defaults %+v", db.HealthCheck, want)
	}
	want = HealthCheck{HTTP: "http://127.0.0.1:8080/healthz", Interval: 5 * time.Second, Timeout: 1500 * time.Millisecond,
		Failures: 2, StartPeriod: 30 * time.Second}
	if web.HealthCheck == nil || !equalCheck(*web.HealthCheck, want) {
		t.Errorf("web.HealthCheck = %+v, want %+v", web.HealthCheck, want)
	}
	if got := job.HealthCheck.Command; !slices.Equal(got, []string{"python", "check.py", "--quick"}) {
		t.Errorf("job.HealthCheck.Command = %q, want the words of the string", got)
	}
	if kinds := []string{db.HealthCheck.Kind(), web.HealthCheck.Kind(), job.HealthCheck.Kind()}; !slices.Equal(kinds, []string{"tcp", "http", "command"}) {
		t.Errorf("Kind() = %q", kinds)
	}
	if db.DependsOn != nil || !slices.Equal(web.DependsOn, []string{"db"}) || !slices.Equal(job.DependsOn, []string{"db", "web"}) {
		t.Errorf("DependsOn = %q, %q, %q", db.DependsOn, web.DependsOn, job.DependsOn)
	}
}

func equalCheck(a, b HealthCheck) bool {
	return a.HTTP == b.HTTP && a.TCP == b.TCP && slices.Equal(a.Command, b.Command) && a.Interval == b.Interval &&
		a.Timeout == b.Timeout && a.Failures == b.Failures && a.StartPeriod == b.StartPeriod
}

// TestHealthCheckErrors checks that bad health checks and dependencies are reported with their line.
func TestHealthCheckErrors(t *testing.T) {
	const two = "programs:\n  - name: a\n    script: a.py\n"
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"no kind", two + "    health_check: {interval_seconds: 1}\n", []wantErr{{4, "programs[0].health_check", "needs one of http, tcp or command"}}},
		{"two kinds", two + "    health_check:\n      tcp: 'h:1'\n      http: http://h/\n", []wantErr{{5, "programs[0].health_check", "has tcp and http; give only one"}}},
		{"bad url", two + "    health_check: {http: 'ftp://h/'}\n", []wantErr{{4, "health_check.http", "scheme must be http or https"}}},
		{"bad tcp", two + "    health_check: {tcp: localhost}\n", []wantErr{{4, "health_check.tcp", "not a host:port"}}},
		{"empty command", two + "    health_check: {command: []}\n", []wantErr{{4, "health_check.command", "must name a command"}}},
		{"zero failures", two + "    health_check: {tcp: 'h:1', failures: 0}\n", []wantErr{{4, "health_check.failures", "at least 1"}}},
		{"zero interval", two + "    health_check: {tcp: 'h:1', interval_seconds: 0}\n", []wantErr{{4, "health_check.interval_seconds", "greater than 0"}}},
		{"timeout over interval", two + "    health_check:\n      tcp: 'h:1'\n      interval_seconds: 1\n      timeout_seconds: 2\n",
			[]wantErr{{7, "health_check.timeout_seconds", "longer than interval_seconds"}}},
		{"unknown key", two + "    health_check: {tcp: 'h:1', retries: 2}\n", []wantErr{{4, "health_check.retries", "unknown key"}}},
		{"unknown dependency", two + "    depends_on: [b]\n", []wantErr{{4, "programs[0].depends_on[0]", `no program named "b"`}}},
		{"listed twice", "programs:\n  - name: a\n    script: a.py\n  - name: b\n    script: b.py\n    depends_on:\n      - a\n      - a\n",
			[]wantErr{{8, "programs[1].depends_on[1]", `"a" is listed twice (first on line 7)`}}},
		{"self", two + "    depends_on: [a]\n", []wantErr{{4, "programs[0].depends_on[0]", "dependency cycle: a -> a"}}},
		{"cycle of three", "programs:\n" +
			"  - {name: a, script: a.py, depends_on: [b]}\n" +
			"  - {name: b, script: b.py, depends_on: [c]}\n" +
			"  - {name: c, script: c.py, depends_on: [a]}\n" +
			"  - {name: d, script: d.py, depends_on: [a]}\n",
			[]wantErr{{4, "programs[2].depends_on[0]", "dependency cycle: a -> b -> c -> a"}}},
		{"not a list", two + "    depends_on: b\n", []wantErr{{4, "programs[0].depends_on", "expected a list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, err := loadYAML(t, tt.yaml)
			checkProblems(t, "load("+tt.name+")", err, path, tt.want)
		})
	}
}

// TestUploadedNoHealthCheck checks that uploaded programs cannot carry the settings pyvisor would not write back.
func TestUploadedNoHealthCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, UploadedFileName, "programs:\n  - name: u\n    script: u.py\n    depends_on: [a]\n")
	path := writeFile(t, dir, "process_manager.yaml", "programs:\n  - name: a\n    script: a.py\n")
	_, err := Load(path)
	checkProblems(t, "Load", err, "", []wantErr{{4, "depends_on", "unknown key"}})
}
