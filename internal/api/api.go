// Package api holds the JSON wire types of pyvisor's HTTP API: the bodies the
// server (package web) sends and the client (package client) decodes, so each
// shape is written down once. The field names and what null means are the
// contract: fields may be added, never renamed or given another meaning.
//
// The types carry no behaviour beyond their JSON tags; the conversions from
// the supervisor's values belong to the server, which keeps the core free of
// JSON.
package api

// Error is the one error shape of the API, the body of every answer that is
// not a success and the data of a log stream's "error" event.
type Error struct {
	// Error is the message, naming what failed and why.
	Error string `json:"error"`
}

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok" whenever the manager answers at all.
	Status string `json:"status"`
}

// Session is the body of GET /api/session: who is asking.
type Session struct {
	// Auth tells whether authentication is on.
	Auth bool `json:"auth"`
	// User is who is asking (a username, or "token:NAME"), null when auth is off.
	User *string `json:"user"`
	// Via is "session" for a browser login, "token" for an API token, null when auth is off.
	Via *string `json:"via"`
}

// MaxLogLines is the most lines one log page may hold, in GET
// /api/programs/{name}/logs and in the first page of a log stream.
const MaxLogLines = 5000

// LogPage is the body of GET /api/programs/{name}/logs and the data of a log
// stream's "page" event: one page of a program's log file, page 1 being the
// newest lines, the lines of a page in file order. A log stream's "lines"
// events carry a plain JSON array of the lines written since.
type LogPage struct {
	// Lines are the page's lines without their newlines; [] when the page is
	// empty, never null.
	Lines []string `json:"lines"`
	// Page is the number of this page, 1 being the newest.
	Page int `json:"page"`
	// Pages is how many pages the file holds at this page size.
	Pages int `json:"pages"`
	// FirstLine is the 1-based number in the file of the page's first line; 0
	// for an empty page.
	FirstLine int `json:"first_line"`
	// LastLine is the 1-based number of the page's last line; 0 for an empty page.
	LastLine int `json:"last_line"`
	// TotalLines is the number of lines in the file.
	TotalLines int `json:"total_lines"`
	// SizeBytes is the size of the file.
	SizeBytes int64 `json:"size_bytes"`
}
