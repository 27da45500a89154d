package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/client"
)

// pyvisor logs: a page of a program's log, followed or searched.

// checkLogFlags says what is wrong with the flags of logs, or "".
func checkLogFlags(fs *flag.FlagSet, n int, follow bool, grep client.LogSearch) string {
	switch {
	case grep.Text == "" && (flagSet(fs, "grep") || grep.Regex || grep.CaseSensitive):
		return "--grep needs a PATTERN (--regex and --case go with it)"
	case grep.Text != "" && follow:
		return "--grep searches what is written; it does not follow (-f)"
	case grep.Text != "" && n < 1:
		return fmt.Sprintf("-n %d: with --grep give how many matches, at least 1", n)
	case grep.Text == "" && (n < 0 || n > api.MaxLogLines):
		return fmt.Sprintf("-n %d: give 0 to %d lines", n, api.MaxLogLines)
	}
	return ""
}

// logs prints the last n lines of name's log and, with follow, the lines
// written afterwards until ctx ends.
func (x *ctl) logs(ctx context.Context, name string, n int, follow bool) int {
	if follow {
		// The stream itself starts with the last n lines, so that no line falls
		// between them and the ones that follow, nor shows twice.
		s, err := x.c.OpenLogStream(ctx, name, n)
		if err != nil {
			return x.failName(ctx, name, err)
		}
		defer s.Close()
		if err := s.Copy(ctx, x.stdout); err != nil {
			return x.fail(err)
		}
		return exitOK // Ctrl+C is how following ends
	}
	// -n 0 still checks that the program exists.
	page, err := x.c.LogPage(ctx, name, 1, max(n, 1))
	if err != nil {
		return x.failName(ctx, name, err)
	}
	if n == 0 {
		return exitOK
	}
	w := bufio.NewWriter(x.stdout)
	for _, line := range page.Lines {
		w.WriteString(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return x.fail(fmt.Errorf("write log lines: %w", err))
	}
	return exitOK
}

// grep prints up to n lines of name's log and its backups that match s,
// newest first, as FILE:LINE: TEXT, FILE named as the download names it
// (NAME.log, NAME.log.1, ...).
func (x *ctl) grep(ctx context.Context, name string, s client.LogSearch, n int) int {
	w := bufio.NewWriter(x.stdout)
	for n > 0 {
		s.Limit = min(n, api.MaxSearchLimit)
		res, err := x.c.SearchLogs(ctx, name, s)
		if err != nil {
			w.Flush()
			return x.failName(ctx, name, err)
		}
		for _, m := range res.Matches {
			fmt.Fprintf(w, "%s:%d: %s\n", logFileName(name, m.File), m.Line, m.Text)
		}
		n -= len(res.Matches)
		if res.NextCursor == nil {
			break
		}
		// Print what was found before the manager searches on: a search of
		// many gigabytes takes a few requests of about 2 s each.
		if err := w.Flush(); err != nil {
			return x.fail(fmt.Errorf("write matches: %w", err))
		}
		s.Cursor = *res.NextCursor
	}
	if err := w.Flush(); err != nil {
		return x.fail(fmt.Errorf("write matches: %w", err))
	}
	return exitOK
}

// logFileName names file number file of name's log: NAME.log, NAME.log.K.
func logFileName(name string, file int) string {
	if file == 0 {
		return name + ".log"
	}
	return name + ".log." + strconv.Itoa(file)
}
