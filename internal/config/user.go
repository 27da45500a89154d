package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// User is the account a program, or the install of an upload, runs as: the `user` setting resolved in the
// user database when the configuration is loaded, so that a typo fails at load time with its line rather
// than at the first start.
type User struct {
	// Name is the account's name in the user database, also when the setting gave a numeric uid.
	Name string
	// UID and GID are the numeric user and primary group IDs.
	UID, GID uint32
	// Groups are the supplementary group IDs from the group database, the primary group included.
	Groups []uint32
	// Home is the home directory the user database names. It need not exist: nobody's is /nonexistent.
	Home string
}

// String describes the user for people: `nobody (uid 65534, gid 65534)`.
func (u *User) String() string {
	return fmt.Sprintf("%s (uid %d, gid %d)", u.Name, u.UID, u.GID)
}

// Credential returns what to start a child with so that it runs as u: its uid, gid and supplementary
// groups. It is nil, meaning "start it as pyvisor itself", for a nil u and when pyvisor already runs as u
// without being root (a non-root process may not even set its own groups). The effective uid is read at
// each call rather than kept, so nothing here depends on when the configuration was loaded.
func (u *User) Credential() *syscall.Credential { return u.credential(os.Geteuid()) }

// credential is Credential for a manager running with effective uid euid.
func (u *User) credential(euid int) *syscall.Credential {
	if u == nil || (euid != 0 && int64(euid) == int64(u.UID)) {
		return nil
	}
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: slices.Clone(u.Groups)}
}

// check reports why a manager running with effective uid euid cannot start programs as u: only root may
// switch to another user.
func (u *User) check(euid int) error {
	if u == nil || euid == 0 || int64(euid) == int64(u.UID) {
		return nil
	}
	return fmt.Errorf("user %q: switching users needs pyvisor to run as root", u.Name)
}

// user decodes a `user` setting: a user name, or a numeric uid, that the user database knows. Lookups are
// cached per decoder, since many programs usually name the same user.
func (d *decoder) user(n *yaml.Node, field string) *User {
	s, ok := d.str(n, field)
	if !ok {
		return nil
	}
	if s == "" {
		d.errorf(n, field, "must not be empty")
		return nil
	}
	if u, ok := d.users[s]; ok {
		return u
	}
	u, err := lookupUser(s)
	if err != nil {
		d.errorf(n, field, "%v", err)
		return nil
	}
	if d.users == nil {
		d.users = map[string]*User{}
	}
	d.users[s] = u
	return u
}

// lookupUser resolves spec, a user name or a string of digits meaning a uid, in the user database.
func lookupUser(spec string) (*User, error) {
	var (
		u   *user.User
		err error
	)
	if _, numErr := strconv.ParseUint(spec, 10, 32); numErr == nil {
		u, err = user.LookupId(spec)
		if _, unknown := errors.AsType[user.UnknownUserIdError](err); unknown {
			return nil, fmt.Errorf("no user has uid %s", spec)
		}
	} else {
		u, err = user.Lookup(spec)
		if _, unknown := errors.AsType[user.UnknownUserError](err); unknown {
			return nil, fmt.Errorf("unknown user %q", spec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", spec, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q is not a number", spec, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q is not a number", spec, u.Gid)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("list the groups of user %q: %w", u.Username, err)
	}
	groups := []uint32{uint32(gid)}
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %q: group id %q is not a number", spec, id)
		}
		if !slices.Contains(groups, uint32(g)) {
			groups = append(groups, uint32(g))
		}
	}
	return &User{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Groups: groups, Home: u.HomeDir}, nil
}
