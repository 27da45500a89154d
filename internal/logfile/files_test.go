package logfile

import (
	"errors"
	"io"
	"os"
	"reflect"
	"testing"
)

func TestFiles(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []int64 // sizes of files 0, 1, … that Files lists; -1 for none
	}{
		{"live only", []string{"abc"}, []int64{3}},
		{"live and backups", []string{"a", "bb", "ccc"}, []int64{1, 2, 3}},
		{"a gap ends the backups", []string{"a", "bb", "-", "dddd"}, []int64{1, 2}},
		{"no live log", []string{"-", "bb"}, []int64{-1, 2}},
		{"nothing", []string{"-"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLog(t, tt.files...)
			got, err := Files(path)
			if err != nil {
				t.Fatalf("Files: %v", err)
			}
			var want []FileInfo
			for k, size := range tt.want {
				if size < 0 {
					continue
				}
				fi, err := os.Stat(FilePath(path, k))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, FileInfo{File: k, SizeBytes: size, Modified: fi.ModTime()})
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Files = %+v; want %+v", got, want)
			}
		})
	}
}

func TestFilePageAndOpenFile(t *testing.T) {
	path := writeLog(t, "live\n", "one\ntwo\n")
	r := NewReader()
	p, err := r.FilePage(path, 1, 1, 1)
	if err != nil || !reflect.DeepEqual(p.Lines, []string{"two"}) {
		t.Errorf("FilePage(1, page 1, 1 line) = %+v, %v; want [two]", p, err)
	}
	if p, err := r.FilePage(path, 0, 1, 10); err != nil || !reflect.DeepEqual(p.Lines, []string{"live"}) {
		t.Errorf("FilePage(0) = %+v, %v; want [live]", p, err)
	}
	for _, k := range []int{-1, 2, 99} {
		if _, err := r.FilePage(path, k, 1, 10); !errors.Is(err, ErrUnknownFile) {
			t.Errorf("FilePage(%d) error = %v; want ErrUnknownFile", k, err)
		}
		if _, err := OpenFile(path, k); !errors.Is(err, ErrUnknownFile) {
			t.Errorf("OpenFile(%d) error = %v; want ErrUnknownFile", k, err)
		}
	}
	f, err := OpenFile(path, 1)
	if err != nil {
		t.Fatalf("OpenFile(1): %v", err)
	}
	defer f.Close()
	if b, err := io.ReadAll(f); string(b) != "one\ntwo\n" || err != nil {
		t.Errorf("OpenFile(1) reads %q, %v; want the backup", b, err)
	}

	missing := writeLog(t, "-", "old\n")
	if p, err := r.FilePage(missing, 0, 1, 10); err != nil || len(p.Lines) != 0 {
		t.Errorf("FilePage(0) of a missing live log = %+v, %v; want an empty page", p, err)
	}
	if _, err := OpenFile(missing, 0); !errors.Is(err, ErrUnknownFile) {
		t.Errorf("OpenFile(0) of a missing live log error = %v; want ErrUnknownFile", err)
	}
}
