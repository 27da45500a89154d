package config

import (
	"os/user"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// needUser looks name up in the user database, skipping the test where the machine has no such user.
func needUser(t *testing.T, name string) *User {
	t.Helper()
	u, err := lookupUser(name)
	if err != nil {
		t.Skipf("user %q is needed: %v", name, err)
	}
	return u
}

func TestLookupUser(t *testing.T) {
	nobody := needUser(t, "nobody")
	osu, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	if strconv.FormatUint(uint64(nobody.UID), 10) != osu.Uid || strconv.FormatUint(uint64(nobody.GID), 10) != osu.Gid ||
		nobody.Home != osu.HomeDir || nobody.Name != "nobody" {
		t.Errorf("lookupUser(nobody) = %+v; want uid %s, gid %s, home %s as os/user says", nobody, osu.Uid, osu.Gid, osu.HomeDir)
	}
	if len(nobody.Groups) == 0 || nobody.Groups[0] != nobody.GID {
		t.Errorf("lookupUser(nobody).Groups = %v; want the primary group %d first", nobody.Groups, nobody.GID)
	}
	byID, err := lookupUser(osu.Uid)
	if err != nil || !reflect.DeepEqual(byID, nobody) {
		t.Errorf("lookupUser(%q) = %+v, %v; want %+v", osu.Uid, byID, err, nobody)
	}
}

func TestUserSetting(t *testing.T) {
	nobody := needUser(t, "nobody")
	root := needUser(t, "root")
	uid := strconv.FormatUint(uint64(nobody.UID), 10)
	tests := []struct {
		name string
		yaml string
		want map[string]*User // program name -> Command().User
	}{
		{"none", "programs:\n  - {name: a, script: a.py}\n", map[string]*User{"a": nil}},
		{"global", "user: nobody\nprograms:\n  - {name: a, script: a.py}\n", map[string]*User{"a": nobody}},
		{"program only", "programs:\n  - {name: a, script: a.py, user: nobody}\n  - {name: b, script: b.py}\n",
			map[string]*User{"a": nobody, "b": nil}},
		{"program overrides global", "user: nobody\nprograms:\n  - {name: a, script: a.py, user: root}\n  - {name: b, script: b.py}\n",
			map[string]*User{"a": root, "b": nobody}},
		{"numeric uid", "user: " + uid + "\nprograms:\n  - {name: a, script: a.py}\n", map[string]*User{"a": nobody}},
		{"quoted numeric uid", "programs:\n  - {name: a, script: a.py, user: '" + uid + "'}\n", map[string]*User{"a": nobody}},
		{"null is absent", "user:\nprograms:\n  - {name: a, script: a.py, user: ~}\n", map[string]*User{"a": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.yaml)
			for i := range c.Programs {
				p := &c.Programs[i]
				if got := c.Command(p, nil).User; !reflect.DeepEqual(got, tt.want[p.Name]) {
					t.Errorf("load(%q): Command(%q).User = %v, want %v", tt.yaml, p.Name, got, tt.want[p.Name])
				}
			}
		})
	}
	t.Run("uploaded programs get the global user", func(t *testing.T) {
		c := mustLoad(t, "user: nobody\n")
		p := c.NewProgram("up", "main.py")
		if got := c.Command(&p, nil).User; !reflect.DeepEqual(got, nobody) {
			t.Errorf("Command(NewProgram(up)).User = %v, want %v", got, nobody)
		}
	})
}

func TestUserErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"unknown global user", "venv: v\nuser: no-such-user-pyvisor\n", []wantErr{{2, "user", `unknown user "no-such-user-pyvisor"`}}},
		{"unknown program user", "programs:\n  - name: a\n    script: a.py\n    user: no-such-user-pyvisor\n",
			[]wantErr{{4, "programs[0].user", `unknown user "no-such-user-pyvisor"`}}},
		{"unknown uid", "user: 3999999999\n", []wantErr{{1, "user", "no user has uid 3999999999"}}},
		{"empty", "user: ''\n", []wantErr{{1, "user", "must not be empty"}}},
		{"a list", "programs:\n  - {name: a, script: a.py, user: [nobody]}\n", []wantErr{{2, "programs[0].user", "expected a string, got a list"}}},
		{"every unknown user reported", "user: no-such-user-a\nprograms:\n  - {name: a, script: a.py, user: no-such-user-b}\n",
			[]wantErr{{1, "user", `"no-such-user-a"`}, {3, "programs[0].user", `"no-such-user-b"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path, err := loadYAML(t, tt.yaml)
			if c != nil {
				t.Fatalf("load(%q) = a config, want errors", tt.yaml)
			}
			checkProblems(t, "load("+strconv.Quote(tt.yaml)+")", err, path, tt.want)
		})
	}
}

func TestCommandUserEnv(t *testing.T) {
	u := &User{Name: "app", UID: 1000, GID: 1000, Groups: []uint32{1000}, Home: "/home/app"}
	environ := []string{"HOME=/root", "USER=root", "LOGNAME=root", "PATH=/bin"}
	tests := []struct {
		name        string
		user        *User
		globalFile  []EnvVar
		environment []EnvVar
		want        []string
		wantKeys    []string
	}{
		{"no user keeps the manager's", nil, nil, nil,
			[]string{"HOME=/root", "LOGNAME=root", "PATH=/bin", "PYTHONUNBUFFERED=1", "USER=root"},
			[]string{"PYTHONUNBUFFERED"}},
		{"user's HOME, USER and LOGNAME replace the manager's", u, nil, nil,
			[]string{"HOME=/home/app", "LOGNAME=app", "PATH=/bin", "PYTHONUNBUFFERED=1", "USER=app"},
			[]string{"HOME", "LOGNAME", "PYTHONUNBUFFERED", "USER"}},
		{"the environment wins over the user's", u, nil, []EnvVar{{"HOME", "/srv/app"}},
			[]string{"HOME=/srv/app", "LOGNAME=app", "PATH=/bin", "PYTHONUNBUFFERED=1", "USER=app"},
			[]string{"HOME", "LOGNAME", "PYTHONUNBUFFERED", "USER"}},
		{"an env file wins over the user's", u, []EnvVar{{"USER", "svc"}, {"LOGNAME", "svc"}}, nil,
			[]string{"HOME=/home/app", "LOGNAME=svc", "PATH=/bin", "PYTHONUNBUFFERED=1", "USER=svc"},
			[]string{"HOME", "LOGNAME", "PYTHONUNBUFFERED", "USER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default("/etc/pm")
			c.User, c.EnvFileVars = tt.user, tt.globalFile
			p := c.NewProgram("a", "a.py")
			p.Environment = tt.environment
			got := c.Command(&p, environ)
			if !slices.Equal(got.Env, tt.want) || !slices.Equal(got.EnvKeys, tt.wantKeys) {
				t.Errorf("Command(user %v).Env, EnvKeys =\n%q, %q\nwant\n%q, %q", tt.user, got.Env, got.EnvKeys, tt.want, tt.wantKeys)
			}
		})
	}
}

func TestUserCredential(t *testing.T) {
	u := &User{Name: "app", UID: 1000, GID: 1001, Groups: []uint32{1001, 27}}
	want := &syscall.Credential{Uid: 1000, Gid: 1001, Groups: []uint32{1001, 27}}
	tests := []struct {
		name string
		user *User
		euid int
		want *syscall.Credential
	}{
		{"no user", nil, 0, nil},
		{"root switches", u, 0, want},
		{"root switches to root too, setting its groups", &User{Name: "root", Groups: []uint32{0}}, 0,
			&syscall.Credential{Groups: []uint32{0}}},
		{"already that user, not root: no switch", u, 1000, nil},
		{"another user, not root: asked for, refused by the kernel", u, 1002, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.user.credential(tt.euid)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("(%v).credential(euid %d) = %+v, want %+v", tt.user, tt.euid, got, tt.want)
			}
			if got != nil && len(got.Groups) > 0 && &got.Groups[0] == &tt.user.Groups[0] {
				t.Errorf("(%v).credential(euid %d) shares its Groups with the User", tt.user, tt.euid)
			}
		})
	}
}

func TestCheckUser(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "app.py", "")
	u := &User{Name: "app", UID: 1000, GID: 1000}
	tests := []struct {
		name string
		user *User
		euid int
		want string // "" means no error
	}{
		{"no user, not root", nil, 1000, ""},
		{"root may switch", u, 0, ""},
		{"already that user", u, 1000, ""},
		{"not root", u, 1001, `user "app": switching users needs pyvisor to run as root`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := Command{Python: "python3", Script: script, Dir: dir, User: tt.user}
			err := cmd.check(tt.euid)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Command{User: %v}.check(euid %d) = %v, want %q", tt.user, tt.euid, err, tt.want)
			}
		})
	}
}
