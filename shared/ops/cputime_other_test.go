//go:build !unix

package ops

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
