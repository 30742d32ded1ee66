package outfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func write(t *testing.T, path, content string) error {
	t.Helper()
	tg, err := Inspect(path)
	if err != nil {
		return err
	}
	return tg.Write(func(w io.Writer) error {
		_, err := io.WriteString(w, content)
		return err
	})
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}

func TestRegularFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.arrow")
	if err := write(t, path, "first"); err != nil {
		t.Fatal(err)
	}
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	if st, _ := os.Stat(path); read(t, path) != "first" || st.Mode().Perm() != fs.FileMode(0o666&^umask) {
		t.Errorf("new file holds %q with mode %v, want %q and %v", read(t, path), st.Mode(), "first", fs.FileMode(0o666&^umask))
	}
	// A private file stays private.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := write(t, path, "second"); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); read(t, path) != "second" || st.Mode().Perm() != 0o600 {
		t.Errorf("rewritten file holds %q with mode %v, want %q and 0600", read(t, path), st.Mode(), "second")
	}
	// Hard links stay linked.
	link := filepath.Join(dir, "link.arrow")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	if err := write(t, path, "third"); err != nil {
		t.Fatal(err)
	}
	if read(t, link) != "third" || read(t, path) != "third" {
		t.Errorf("after a write through one hard link the other holds %q", read(t, link))
	}
	if got := names(t, dir); len(got) != 2 {
		t.Errorf("directory holds %v, want the two links only", got)
	}
}

// A failed write leaves the file as it was and nothing beside it.
func TestFailedWriteKeepsOriginal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.sgn")
	if err := write(t, path, "good"); err != nil {
		t.Fatal(err)
	}
	tg, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Write(func(w io.Writer) error {
		io.WriteString(w, "half")
		return errors.New("no space left on device")
	})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("error %v, want one naming %s and the cause", err, path)
	}
	if read(t, path) != "good" || len(names(t, dir)) != 1 {
		t.Errorf("after a failed write: %q, directory %v", read(t, path), names(t, dir))
	}
	f, err := tg.Create()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "dropped")
	f.Abort()
	if err := f.Commit(); err != nil || read(t, path) != "good" || len(names(t, dir)) != 1 {
		t.Errorf("after Abort: Commit %v, file %q, directory %v", err, read(t, path), names(t, dir))
	}
}

func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.sgn")
	link := filepath.Join(dir, "link.sgn")
	if err := os.Symlink("real.sgn", link); err != nil {
		t.Fatal(err)
	}
	// Dangling: the target is made.
	if err := write(t, link, "one"); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"one", "two"} {
		if content == "two" {
			if err := write(t, link, "two"); err != nil {
				t.Fatal(err)
			}
		}
		st, err := os.Lstat(link)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 || read(t, target) != content {
			t.Errorf("link %v (%v), target holds %q; want the link kept and %q in its target", st.Mode(), err, read(t, target), content)
		}
	}
}

// Devices and FIFOs are written through, never replaced.
func TestWriteThrough(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "stdout")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, link} {
		got := make(chan string, 1)
		go func() {
			b, _ := os.ReadFile(fifo)
			got <- string(b)
		}()
		if err := write(t, path, "through "+path); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != "through "+path {
			t.Errorf("reader of %s got %q", path, s)
		}
		if st, err := os.Stat(fifo); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
			t.Errorf("after writing %s the FIFO is %v (%v)", path, st.Mode(), err)
		}
	}
	// A character device like /dev/null (1,3), made here, never the
	// machine's own.
	null := filepath.Join(dir, "null")
	want := 2
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Logf("no character device test: mknod: %v", err)
	} else {
		want++
		tg, err := Inspect(null)
		if err != nil || tg.Replaceable() {
			t.Fatalf("Inspect(%s) = %+v, %v; want a target written through", null, tg, err)
		}
		if err := write(t, null, "discarded"); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(null); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
			t.Errorf("after a write the device is %v (%v)", st.Mode(), err)
		}
	}
	if got := names(t, dir); len(got) != want {
		t.Errorf("directory holds %v, want only what the test made", got)
	}
}

func TestInspectRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing", "out.sgn"), filepath.Join(file, "out.sgn"), dir} {
		if _, err := Inspect(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Inspect(%s) = %v, want an error naming it", path, err)
		}
	}
	if os.Getuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(filepath.Join(ro, "out.sgn")); err == nil {
			t.Errorf("Inspect in a read-only directory succeeded")
		}
	}
}

// Temporary files of a process that is gone are removed; those of a
// running one are kept.
func TestRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no process to outlive: %v", err)
	}
	dead := tempPrefix("out.arrow") + strconv.Itoa(cmd.Process.Pid) + "-0a1b2c3d"
	alive := tempPrefix("out.arrow") + strconv.Itoa(os.Getppid()) + "-0a1b2c3d"
	other := tempPrefix("other.arrow") + strconv.Itoa(cmd.Process.Pid) + "-0a1b2c3d"
	for _, n := range []string{dead, alive, other} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Inspect(filepath.Join(dir, "out.arrow")); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(t, dir), " ")
	if strings.Contains(got, dead) || !strings.Contains(got, alive) || !strings.Contains(got, other) {
		t.Errorf("directory holds %s; want %s removed, %s and %s kept", got, dead, alive, other)
	}
}
