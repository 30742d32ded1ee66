package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// ProfileEnv names the environment variable that makes a tool write a CPU
// profile of its whole run to the file it names, for `go tool pprof`:
// SGN_CPUPROFILE=attack.pprof sgn-attack ... shows where an attack spends
// its time without rebuilding anything.
const ProfileEnv = "SGN_CPUPROFILE"

// startProfile starts the CPU profile getenv(ProfileEnv) asks for, if any;
// stop ends it and closes the file.
func startProfile(getenv func(string) string) (stop func() error, err error) {
	path := getenv(ProfileEnv)
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s=%s: %w", ProfileEnv, path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s=%s: %w", ProfileEnv, path, err)
		}
		return nil
	}, nil
}
