package proc

// selfFromProc does nothing on macOS, which has no /proc: Self reports the CPU
// time and the descriptor limit only.
func selfFromProc(*SelfStats) {}
