package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/pyvisor/pyvisor/internal/config"
)

// TestNomadJSONDecodesStrictly decodes the job into the Job type of Nomad's own API module, refusing
// unknown fields, and checks what it says. A Nomad agent cannot run here (and the Nomad module itself is
// not open source), so whether a server accepts the job is not tested: this checks the shape and values.
func TestNomadJSONDecodesStrictly(t *testing.T) {
	cfg := everyKey(t)
	jobs, _ := Nomad(cfg, NomadOptions{Datacenter: "eu-west"})
	decoded := map[string]*api.Job{}
	groups := map[string]*api.TaskGroup{}
	for _, job := range jobs {
		data, err := job.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Job *api.Job }
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode job %s into api.Job: %v\n%s", job.ID, err, data)
		}
		decoded[*got.Job.ID] = got.Job
		for _, g := range got.Job.TaskGroups {
			groups[*g.Name] = g
		}
	}
	if len(decoded) != 3 || decoded["pyvisor"] == nil || decoded["pyvisor-report"] == nil || decoded["pyvisor-digest"] == nil {
		t.Fatalf("jobs %v; want pyvisor, pyvisor-report and pyvisor-digest (ticker's @every 90s has no Nomad cron)", slices.Collect(maps.Keys(decoded)))
	}
	j := decoded["pyvisor"]
	if *j.Type != "service" || len(j.Datacenters) != 1 || j.Datacenters[0] != "eu-west" || j.Periodic != nil {
		t.Errorf("job pyvisor: type %q datacenters %q periodic %v; want service, [eu-west], none", *j.Type, j.Datacenters, j.Periodic)
	}
	if len(j.TaskGroups) != 7 {
		t.Errorf("job pyvisor has %d groups; want web, worker two, legacy, pool:1, pool:2, crawler, uploaded-job", len(j.TaskGroups))
	}
	report, digest := decoded["pyvisor-report"], decoded["pyvisor-digest"]
	crawler := groups["crawler"]
	crawlerTask := crawler.Tasks[0]
	webService := groups["web"].Tasks[0].Services[0]
	periodicChecks := []struct {
		what      string
		got, want any
	}{
		{"report type", *report.Type, "batch"},
		{"report crons", fmt.Sprint(report.Periodic.Specs), "[30 3 * * *]"},
		{"report time zone", *report.Periodic.TimeZone, "Europe/Berlin"},
		{"report prohibit overlap", *report.Periodic.ProhibitOverlap, true},
		{"report enabled", *report.Periodic.Enabled, true},
		{"report restart attempts", *report.TaskGroups[0].RestartPolicy.Attempts, 0},
		{"digest crons (either day field)", fmt.Sprint(digest.Periodic.Specs), "[0 6 1,15 * 1]"},
		{"digest count", *digest.TaskGroups[0].Count, 2},
		{"crawler count", *crawler.Count, 3},
		{"crawler has no PYVISOR_INSTANCE of one copy", crawlerTask.Env[config.EnvInstance], ""},
		{"crawler instance template", *crawlerTask.Templates[len(crawlerTask.Templates)-1].EmbeddedTmpl,
			config.EnvInstance + `={{ env "NOMAD_ALLOC_INDEX" | parseInt | add 1 }}` + "\n"},
		{"crawler instance template env", *crawlerTask.Templates[len(crawlerTask.Templates)-1].Envvars, true},
		{"crawler check type", crawlerTask.Services[0].Checks[0].Type, "tcp"},
		{"crawler static port", crawler.Networks[0].ReservedPorts[0].Value, 9100},
		{"crawler check_restart limit", crawlerTask.Services[0].CheckRestart.Limit, 4},
		{"pool copies with {instance} in args", groups["pool:2"].Tasks[0].Env[config.EnvInstance], "2"},
		{"web service provider", webService.Provider, "nomad"},
		{"web check type", webService.Checks[0].Type, "http"},
		{"web check path", webService.Checks[0].Path, "/healthz"},
		{"web check port", webService.Checks[0].PortLabel, "health"},
		{"web static port", groups["web"].Networks[0].ReservedPorts[0].Value, 8080},
		{"web static port label", groups["web"].Networks[0].ReservedPorts[0].Label, "health"},
		{"web check interval", webService.Checks[0].Interval, 5 * time.Second},
		{"web check timeout", webService.Checks[0].Timeout, time.Second},
		{"web check_restart limit", webService.CheckRestart.Limit, 2},
		{"web check_restart grace", *webService.CheckRestart.Grace, 30 * time.Second},
	}
	for _, c := range periodicChecks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
		}
	}
	web := groups["web"]
	task := web.Tasks[0]
	dir := cfg.Dir
	checks := []struct {
		what      string
		got, want any
	}{
		{"web count", *web.Count, 1},
		{"worker two count (enabled: false)", *groups["worker two"].Count, 0},
		{"web restart attempts", *web.RestartPolicy.Attempts, 4},
		{"web restart delay", *web.RestartPolicy.Delay, 2 * time.Second},
		{"web restart interval", *web.RestartPolicy.Interval, 180 * time.Second},
		{"web restart mode", *web.RestartPolicy.Mode, "fail"},
		{"web reschedule unlimited", *web.ReschedulePolicy.Unlimited, true},
		{"web reschedule delay (broken_cooldown_seconds)", *web.ReschedulePolicy.Delay, 120 * time.Second},
		{"worker two reschedule unlimited", *groups["worker two"].ReschedulePolicy.Unlimited, false},
		{"worker two restart attempts", *groups["worker two"].RestartPolicy.Attempts, 0},
		{"legacy restart mode (never broken)", *groups["legacy"].RestartPolicy.Mode, "delay"},
		{"driver", task.Driver, "raw_exec"},
		{"user", task.User, "daemon"},
		{"command", task.Config["command"], filepath.Join(dir, "venvs/web/bin/python")},
		{"first arg", task.Config["args"].([]any)[0], filepath.Join(dir, "srv/app.py")},
		{"arg with a space", task.Config["args"].([]any)[2], "hello world"},
		{"work_dir", task.Config["work_dir"], filepath.Join(dir, "srv")},
		{"env GREETING", task.Env["GREETING"], `it's 100% $HOME and "quoted"`},
		{"env VIRTUAL_ENV", task.Env["VIRTUAL_ENV"], filepath.Join(dir, "venvs/web")},
		{"env PYTHONUNBUFFERED", task.Env["PYTHONUNBUFFERED"], "1"},
		{"kill_signal", task.KillSignal, "SIGINT"},
		{"kill_timeout", *task.KillTimeout, 45 * time.Second},
		{"log files", *task.LogConfig.MaxFiles, 4},
		{"log file size", *task.LogConfig.MaxFileSizeMB, 5},
		{"env file templates", len(task.Templates), 2},
		{"second template source", *task.Templates[1].SourcePath, filepath.Join(dir, "web.env")},
		{"template env", *task.Templates[1].Envvars, true},
		{"uploaded command", groups["uploaded-job"].Tasks[0].Config["command"], filepath.Join(dir, "uploads/uploaded-job/.venv/bin/python")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
		}
	}
}
