package export

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestNomadJSONDecodesStrictly decodes the job into the Job type of Nomad's own API module, refusing
// unknown fields, and checks what it says. A Nomad agent cannot run here (and the Nomad module itself is
// not open source), so whether a server accepts the job is not tested: this checks the shape and values.
func TestNomadJSONDecodesStrictly(t *testing.T) {
	cfg := everyKey(t)
	job, _ := Nomad(cfg, NomadOptions{Datacenter: "eu-west"})
	data, err := job.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Job *api.Job }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode the job into api.Job: %v\n%s", err, data)
	}
	j := got.Job
	if *j.ID != "pyvisor" || *j.Type != "service" || len(j.Datacenters) != 1 || j.Datacenters[0] != "eu-west" {
		t.Errorf("job ID %q type %q datacenters %q; want pyvisor, service, [eu-west]", *j.ID, *j.Type, j.Datacenters)
	}
	groups := map[string]*api.TaskGroup{}
	for _, g := range j.TaskGroups {
		groups[*g.Name] = g
	}
	if len(groups) != 7 {
		t.Fatalf("job has groups %v; want web, worker two, legacy, report, pool:1, pool:2, uploaded-job", groups)
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
