//go:build !linux

package logfile

// notifier is Linux's inotify on Linux; elsewhere logs are only checked.
type notifier struct{}

func newNotifier() *notifier                     { return nil }
func (*notifier) written() <-chan int32          { return nil }
func (*notifier) pending() int32                 { return -1 }
func (*notifier) watch(string) (int32, bool)     { return -1, false }
func (*notifier) watchDir(string) (int32, error) { return -1, errNoNotifier }
func (*notifier) unwatch(int32)                  {}
func (*notifier) close()                         {}
