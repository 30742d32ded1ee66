package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"sgn/shared/model"
)

// fits refuses a program whose forward pass alone would hold more than
// memory bytes at its batch: the parameters and every layer's output for
// batch examples. A training or gradient step keeps all of them for its
// backward pass, so such a program cannot run; refusing it in one line
// beats an out-of-memory crash, which may take other programs with it.
// memory <= 0 means unknown: nothing is refused.
func fits(net *model.Net, batch int, memory int64) error {
	if memory <= 0 {
		return nil
	}
	acts, err := net.Config.Activations()
	if err != nil {
		return err
	}
	params := 0
	for _, p := range net.Params {
		params += len(p.Data)
	}
	// In float64: batch comes from the command line.
	need := 4 * (float64(params) + float64(batch)*float64(acts))
	if need > float64(memory) {
		s := net.Config.InShape
		return fmt.Errorf("%s on %dx%dx%d inputs at batch %d needs at least %.3g GB, more than the %.3g GB of memory here",
			net.Config.Arch, s[0], s[1], s[2], batch, need/1e9, float64(memory)/1e9)
	}
	return nil
}

// machineMemory returns the memory this process may use: the machine's,
// or its cgroup's limit when lower; 0 if unknown.
func machineMemory() int64 {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 0
	}
	total := int64(info.Totalram) * int64(info.Unit)
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && limit < total {
			total = limit
		}
	}
	return total
}
