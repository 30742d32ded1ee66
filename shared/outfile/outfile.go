// Package outfile writes the files tools produce without harming what is
// at their path. A regular file is replaced atomically (a temporary file
// beside it, synced, renamed over it) and keeps its permissions and owner;
// one with several hard links is rewritten in place once the new content is
// complete, so that the links stay. A device, a FIFO or a socket is written
// through, never replaced, and a symbolic link is followed: its target is
// written as above. Inspect checks an output when a tool starts, so that a
// missing or read-only directory fails before any work, and removes the
// temporary files that killed runs left beside it.
package outfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Target is an output path as Inspect found it.
type Target struct {
	path    string // as given, for messages
	dest    string // the file written: path, or where its symbolic links lead
	through bool   // a device, FIFO or socket: written in place
	exists  bool
	mode    fs.FileMode // of the existing regular file
	uid     int
	gid     int
	links   uint64
}

// accessWrite is access(2)'s W_OK.
const accessWrite = 2

// maxLinks bounds the symbolic links followed to a missing target, as the
// kernel does.
const maxLinks = 40

// Inspect finds what path is and checks that it can be written: for a
// regular or new file, that a temporary file can be made beside where it
// lies. It removes temporary files left there by runs that were killed.
func Inspect(path string) (*Target, error) {
	if path == "" {
		return nil, errors.New("empty output path")
	}
	t := &Target{path: path, dest: path}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("%s is a directory", path)
	case err == nil && !st.Mode().IsRegular():
		// Opening a FIFO for writing waits for a reader, so it is opened
		// only when the first bytes are written; its permission is checked
		// now.
		if err := syscall.Access(path, accessWrite); err != nil {
			return nil, createError(path, err)
		}
		t.through = true
		return t, nil
	case err == nil:
		if t.dest, err = filepath.EvalSymlinks(path); err != nil {
			return nil, createError(path, err)
		}
		t.exists, t.mode, t.links = true, st.Mode(), 1
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			t.uid, t.gid, t.links = int(sys.Uid), int(sys.Gid), uint64(sys.Nlink)
		}
	case errors.Is(err, fs.ErrNotExist):
		if t.dest, err = danglingTarget(path); err != nil {
			return nil, createError(path, err)
		}
	default:
		return nil, createError(path, err)
	}
	dir := filepath.Dir(t.dest)
	removeStale(dir, filepath.Base(t.dest))
	probe, err := createTemp(dir, filepath.Base(t.dest))
	if err != nil {
		return nil, createError(path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return t, nil
}

// createError says that path cannot be made, naming it once.
func createError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("create %s: %w", path, err)
}

// danglingTarget returns the missing file that path, a chain of symbolic
// links or no link at all, names.
func danglingTarget(path string) (string, error) {
	for range maxLinks {
		st, err := os.Lstat(path)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", fmt.Errorf("more than %d symbolic links", maxLinks)
}

// Path returns the path as given.
func (t *Target) Path() string { return t.path }

// Replaceable reports whether the target is, or will be, a regular file,
// which each Create replaces whole; a device or a FIFO is written through,
// so what is written to it twice arrives twice.
func (t *Target) Replaceable() bool { return !t.through }

// File is an output being written. Commit puts it in place; Abort drops it.
type File struct {
	t    *Target
	f    *os.File
	done bool
}

// Create starts writing the target: a temporary file beside a regular
// target, the device or FIFO itself otherwise (opened at the first write).
func (t *Target) Create() (*File, error) {
	if t.through {
		return &File{t: t}, nil
	}
	f, err := createTemp(filepath.Dir(t.dest), filepath.Base(t.dest))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", t.path, err)
	}
	out := &File{t: t, f: f}
	if t.exists {
		if err := keepOwnership(f, t); err != nil {
			out.Abort()
			return nil, fmt.Errorf("create %s: %w", t.path, err)
		}
	}
	return out, nil
}

// keepOwnership gives the temporary file the mode and, where the process
// may, the owner of the file it replaces.
func keepOwnership(f *os.File, t *Target) error {
	if err := f.Chmod(t.mode.Perm() | t.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if t.uid != os.Getuid() || t.gid != os.Getgid() {
		// Only root may give a file away; anyone else makes a file of
		// their own, as an editor saving it would.
		if err := f.Chown(t.uid, t.gid); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	return nil
}

// Write implements io.Writer.
func (o *File) Write(p []byte) (int, error) {
	if o.f == nil {
		if err := o.open(); err != nil {
			return 0, err
		}
	}
	return o.f.Write(p)
}

func (o *File) open() error {
	f, err := os.OpenFile(o.t.dest, os.O_WRONLY, 0)
	if err != nil {
		o.done = true
		return fmt.Errorf("write %s: %w", o.t.path, err)
	}
	o.f = f
	return nil
}

// Commit puts what was written in place; after it, Abort does nothing.
func (o *File) Commit() error {
	if o.done {
		return nil
	}
	if o.t.through {
		if o.f == nil {
			if err := o.open(); err != nil {
				return err
			}
		}
		o.done = true
		if err := o.f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", o.t.path, err)
		}
		return nil
	}
	o.done = true
	tmp := o.f.Name()
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && o.t.links > 1 {
		err = copyInPlace(tmp, o.t.dest)
	} else if err == nil {
		err = os.Rename(tmp, o.t.dest)
		if err == nil {
			// The rename is durable only once the directory is on disk;
			// not every file system can sync a directory, and the file is
			// complete either way.
			syncDir(filepath.Dir(o.t.dest))
			return nil
		}
	}
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", o.t.path, err)
	}
	return nil
}

// Abort drops what was written: the temporary file is removed; a device or
// FIFO is closed, so its reader sees the output end.
func (o *File) Abort() {
	if o.done {
		return
	}
	o.done = true
	if o.f == nil {
		return
	}
	o.f.Close()
	if !o.t.through {
		os.Remove(o.f.Name())
	}
}

// Write writes the target with write: atomically where it is a regular
// file, and not at all if write fails.
func (t *Target) Write(write func(io.Writer) error) error {
	f, err := t.Create()
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	return f.Commit()
}

// copyInPlace rewrites dest with the content of the complete file src,
// keeping dest's inode and so its other hard links.
func copyInPlace(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if serr := out.Sync(); err == nil {
		err = serr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// tempPrefix starts the names of the temporary files of output base; the
// process id follows it, so that a later run can tell a killed run's
// files from a running one's.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// createTemp makes a new temporary file for output base in dir, with the
// permissions of a file made by os.Create (0666 less the umask).
func createTemp(dir, base string) (*os.File, error) {
	prefix := tempPrefix(base) + strconv.Itoa(os.Getpid()) + "-"
	for range 100 {
		var suffix [4]byte
		rand.Read(suffix[:])
		f, err := os.OpenFile(filepath.Join(dir, prefix+hex.EncodeToString(suffix[:])), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("cannot find an unused temporary file name")
}

// removeStale removes the temporary files of output base in dir whose
// process no longer runs: what a run killed by SIGKILL, or a crash, left.
func removeStale(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pid, _, ok := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 || n == os.Getpid() {
			continue
		}
		if syscall.Kill(n, 0) == syscall.ESRCH {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
