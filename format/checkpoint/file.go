package checkpoint

import (
	"fmt"
	"os"
)

// ReadFile reads the checkpoint at path. Errors name the path. (Tools write
// checkpoints with Encode through package outfile, which knows how to
// replace a file without harming what is at its path.)
func ReadFile(path string, opts ...Option) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	defer f.Close()
	hint := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		hint = fi.Size() - headerSize
	}
	c, err := decode(f, newOptions(opts), hint)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return c, nil
}
