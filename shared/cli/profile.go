package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
)

// ProfileEnv names the environment variable that makes a tool write a CPU
// profile of its whole run to the file it names, for `go tool pprof`:
// SGN_CPUPROFILE=attack.pprof sgn-attack ... shows where an attack spends
// its time without rebuilding anything.
const ProfileEnv = "SGN_CPUPROFILE"

// MemProfileEnv names the environment variable that makes a tool write a
// heap profile to the file it names when its run ends: `go tool pprof
// -sample_index=alloc_space` shows what the run allocated, and where.
const MemProfileEnv = "SGN_MEMPROFILE"

// startProfile starts the profiles getenv(ProfileEnv) and
// getenv(MemProfileEnv) ask for, if any; stop ends them and closes their
// files.
func startProfile(getenv func(string) string) (stop func() error, err error) {
	cpu, mem := getenv(ProfileEnv), getenv(MemProfileEnv)
	stopCPU := func() error { return nil }
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s=%s: %w", ProfileEnv, cpu, err)
		}
		stopCPU = func() error {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				return fmt.Errorf("%s=%s: %w", ProfileEnv, cpu, err)
			}
			return nil
		}
	}
	if mem == "" {
		return stopCPU, nil
	}
	return func() error { return errors.Join(stopCPU(), writeHeapProfile(mem)) }, nil
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s: %w", MemProfileEnv, err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("%s=%s: %w", MemProfileEnv, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s=%s: %w", MemProfileEnv, path, err)
	}
	return nil
}
