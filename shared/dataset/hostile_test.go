package dataset_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"sgn/shared/dataset"
)

// A file that is not the official one is refused by its checksum before
// it is parsed: a small gzip of zeros would make a huge IDX file.
func TestChecksumBeforeParsing(t *testing.T) {
	d := newTiny()
	const n = 16 << 20 / 20 // 16 MiB of 1x4x5 images
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.DefaultCompression)
	zw.Write(idxFile(dataset.IDXImages, []uint32{n, 4, 5}, nil))
	zw.Write(make([]byte, n*20))
	zw.Close()
	dir := writeFiles(t, map[string][]byte{tinyImages: bomb.Bytes(), tinyLabels: d.files[tinyLabels]})
	f, _ := fetcher(t, d.spec(), dataset.WithFromDir(dir))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := f.Load(context.Background(), "tiny", "train")
	runtime.ReadMemStats(&after)
	var ce *dataset.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a checksum error", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("refusing a %d-byte file allocated %d bytes", bomb.Len(), got)
	}
}

// A FIFO named like an official file is refused at once: opening it used
// to wait for a writer for ever.
func TestFIFOIsRefused(t *testing.T) {
	d := newTiny()
	dir := writeFiles(t, map[string][]byte{tinyLabels: d.files[tinyLabels]})
	fifo := filepath.Join(dir, tinyImages)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	f, _ := fetcher(t, d.spec(), dataset.WithFromDir(dir))
	done := make(chan error, 1)
	go func() {
		_, err := f.Load(context.Background(), "tiny", "train")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fifo+": not a regular file") {
			t.Errorf("error %v, want one saying %s is not a regular file", err, fifo)
		}
	case <-time.After(10 * time.Second):
		// Release the blocked open so that the test can end.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("Load hangs on a FIFO")
	}
}
