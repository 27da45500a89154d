package proc

import (
	"os"
)

// selfFromProc fills in the memory sizes, start time and open descriptors of
// the calling process from /proc/self.
func selfFromProc(s *SelfStats) {
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		if st, ok := parseStat(b); ok {
			s.RSSBytes = st.rssPages * uint64(os.Getpagesize())
			s.VirtualBytes = st.vsize
			if boot := BootTime(); !boot.IsZero() {
				s.Start = boot.Add(ticksToDuration(st.startTime))
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.OpenFDs = len(fds) - 1 // without the one ReadDir had open
	}
}
