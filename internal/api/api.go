// Package api holds the JSON wire types of pyvisor's HTTP API: the bodies the
// server (package web) sends and the client (package client) decodes, so each
// shape is written down once. The field names and what null means are the
// contract: fields may be added, never renamed or given another meaning.
//
// The types carry no behaviour beyond their JSON tags; the conversions from
// the supervisor's values belong to the server, which keeps the core free of
// JSON.
package api

import "time"

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
	// File is the number of the file the page is of: 0 the live log, 1..N
	// its backups, 1 the newest.
	File int `json:"file"`
	// Files are the log's files that exist, the live log first, then the
	// backups newest first; [] when there are none, never null.
	Files []LogFile `json:"files"`
}

// LogFile describes one file of a program's log.
type LogFile struct {
	// File is 0 for the live log and 1..N for the backups, 1 the newest.
	File int `json:"file"`
	// SizeBytes is the file's size when listed.
	SizeBytes int64 `json:"size_bytes"`
	// Modified is the time of the file's last write (RFC 3339).
	Modified time.Time `json:"modified"`
}

// MaxSearchLimit is the most matches one answer of GET
// /api/programs/{name}/logs/search may hold.
const MaxSearchLimit = 1000

// LogSearch is the body of GET /api/programs/{name}/logs/search: the lines of
// a program's log and its backups that match a query, newest first.
type LogSearch struct {
	// Matches are newest first: the live log from its end, then backup 1
	// from its end, and so on; [] when none, never null.
	Matches []LogMatch `json:"matches"`
	// ScannedBytes counts the bytes this request searched.
	ScannedBytes int64 `json:"scanned_bytes"`
	// NextCursor continues the search after the last match (the cursor
	// parameter of the next request with the same query); null once every
	// file was searched.
	NextCursor *string `json:"next_cursor"`
}

// LogMatch is one matching line.
type LogMatch struct {
	// File is the number of the file that holds the line, as in LogFile.
	File int `json:"file"`
	// Line is the 1-based number of the line in File.
	Line int `json:"line"`
	// Page is the page of GET /api/programs/{name}/logs?file=File that
	// holds the line, at the page size the search was given.
	Page int `json:"page"`
	// Text is the line as a log page shows it.
	Text string `json:"text"`
}
