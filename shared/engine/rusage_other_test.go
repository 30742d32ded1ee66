//go:build !unix

package engine_test

import "time"

func usage() (faults int64, user, sys time.Duration, ok bool) { return 0, 0, 0, false }
