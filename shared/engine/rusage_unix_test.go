//go:build unix

package engine_test

import (
	"syscall"
	"time"
)

// usage is the process's minor page faults and user and system CPU time so
// far, which unlike wall time do not depend on what else the machine runs.
func usage() (faults int64, user, sys time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, 0, false
	}
	return int64(ru.Minflt), time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), true
}
