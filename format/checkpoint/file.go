package checkpoint

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ReadFile reads the checkpoint at path. Errors name the path.
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

// WriteFile writes c to path atomically: it writes a temporary file in the
// same directory, syncs it, renames it over path and syncs the directory.
// On any error the file previously at path is untouched and the temporary
// file is removed, so a crash or a full disk never leaves a half-written
// checkpoint where a good one was.
func WriteFile(path string, c *Checkpoint, opts ...Option) error {
	// Encode first: an invalid checkpoint must not even create a file.
	hdr, frame, err := encode(c, newOptions(opts))
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err := w.Write(frame)
		return err
	})
}

// writeAtomic replaces path with what write produces, or leaves it alone.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err != nil {
			if !renamed {
				f.Close()
				os.Remove(tmp)
			}
			err = fmt.Errorf("write checkpoint %s: %w", path, err)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	// The rename is durable only once the directory entry is on disk.
	// Windows cannot open a directory for syncing.
	if runtime.GOOS != "windows" {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	return nil
}

// createTemp is os.CreateTemp with mode 0666 before the umask, so the
// final file gets the same permissions as one made by os.Create.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		var suffix [8]byte
		rand.Read(suffix[:])
		name := filepath.Join(dir, prefix+hex.EncodeToString(suffix[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("cannot find an unused temporary file name")
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
