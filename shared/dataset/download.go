package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// download fetches file into dst from the spec's URLs in turn, and returns
// the URL that worked. The file lands at dst only once complete and checked.
func (f *Fetcher) download(ctx context.Context, spec *Spec, file File, dst string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	var errs []error
	for _, base := range spec.URLs {
		url := base + file.Name
		err := f.downloadURL(ctx, url, file, dst)
		if err == nil {
			return url, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// Without network every mirror fails the same way: the error
		// returned says so once, rather than a note per mirror.
		if !noNetwork(err) {
			f.note("%v", err)
		}
		errs = append(errs, err)
	}
	os.Remove(filepath.Dir(dst)) // only if empty: nothing was downloaded
	if !slices.ContainsFunc(errs, func(err error) bool { return !noNetwork(err) }) {
		return "", fmt.Errorf("no network to download it (%v)", errs[0])
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return "", fmt.Errorf("the download failed (%s)", strings.Join(msgs, "; "))
}

// permanent marks a download error that trying the same URL again will not
// fix.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// downloadURL downloads url into dst+".part", resuming what a previous
// attempt left there, retrying transient failures with backoff, then checks
// the SHA-256 and renames the part into place.
func (f *Fetcher) downloadURL(ctx context.Context, url string, file File, dst string) error {
	part := dst + ".part"
	wait := f.backoff
	for attempt := 0; ; attempt++ {
		err := f.fetchOnce(ctx, url, file, part)
		if err == nil {
			break
		}
		var perm *permanent
		if errors.As(err, &perm) || attempt >= f.retries || ctx.Err() != nil {
			return err
		}
		f.note("%v; trying again in %v", err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
	got, err := fileSHA256(part)
	if err != nil {
		return err
	}
	if got != file.SHA256 {
		// A wrong file is not worth resuming from.
		os.Remove(part)
		return &ChecksumError{File: file.Name, Where: url, Got: got, Want: file.SHA256}
	}
	if err := os.Rename(part, dst); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	// Make the rename itself durable; not every system can sync a
	// directory, and the file is already complete, so failure is ignored.
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fetchOnce makes one request for url, appending to part from where it
// ends when the server honours a Range request. The part is synced before
// fetchOnce returns, whatever happened.
func (f *Fetcher) fetchOnce(ctx context.Context, url string, file File, part string) (err error) {
	out, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return &permanent{fmt.Errorf("cache: %w", err)}
	}
	defer func() {
		if serr := out.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("cache: %w", serr)
		}
		// An empty part (say the host was unreachable) is not kept.
		if st, serr := out.Stat(); serr == nil && st.Size() == 0 {
			os.Remove(part)
		}
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("cache: %w", cerr)
		}
	}()
	st, err := out.Stat()
	if err != nil {
		return &permanent{fmt.Errorf("cache: %w", err)}
	}
	have := st.Size()
	if have > file.Size {
		have = 0
	}
	if have == file.Size {
		return nil // a previous run got it all; the checksum decides
	}

	// The request is cancelled if the body stalls, which the client's
	// timeouts do not cover.
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(f.stallTimeout, func() { cancel(fmt.Errorf("no data for %v", f.stallTimeout)) })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
	if err != nil {
		return &permanent{fmt.Errorf("%s: %w", url, err)}
	}
	req.Header.Set("User-Agent", "sgn-fetch")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return classify(url, err, context.Cause(reqCtx))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return fmt.Errorf("%s: asked for bytes from %d, got Content-Range %q", url, have, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		have = 0 // the server sends the whole file
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// The part does not fit what the server has: start over.
		out.Truncate(0)
		return fmt.Errorf("%s: %s", url, resp.Status)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("%s: %s", url, resp.Status)
	default:
		return &permanent{fmt.Errorf("%s: %s", url, resp.Status)}
	}
	if err := out.Truncate(have); err != nil {
		return &permanent{fmt.Errorf("cache: %w", err)}
	}
	if _, err := out.Seek(have, io.SeekStart); err != nil {
		return &permanent{fmt.Errorf("cache: %w", err)}
	}
	bar := newProgress(f.progress, file.Name, have, file.Size)
	body := &watchedReader{r: resp.Body, onRead: func(n int) {
		stall.Reset(f.stallTimeout)
		bar.add(n)
	}}
	// One byte more than the official size is enough to know it is wrong.
	n, err := io.Copy(fileWriter{out}, io.LimitReader(body, file.Size-have+1))
	bar.end()
	switch {
	case have+n > file.Size:
		return &permanent{fmt.Errorf("%s: more than the official %d bytes", url, file.Size)}
	case err != nil:
		var werr *writeError
		if errors.As(err, &werr) {
			return &permanent{fmt.Errorf("cache: %w", err)}
		}
		return classify(url, err, context.Cause(reqCtx))
	case have+n < file.Size:
		return fmt.Errorf("%s: ended after %d of %d bytes", url, have+n, file.Size)
	}
	return nil
}

// classify wraps a request error, marking as permanent those that another
// attempt at the same URL will not fix, so that an offline machine moves
// on at once.
func classify(url string, err, cause error) error {
	if cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // the stall timer's reason is clearer than "context canceled"
	}
	var urlErr *neturl.Error
	if !errors.As(err, &urlErr) { // which already names the URL
		err = fmt.Errorf("%s: %w", url, err)
	}
	if noNetwork(err) {
		return &permanent{err}
	}
	return err
}

// noNetwork reports whether err says the host cannot be reached at all
// (no name resolution, no route, connection refused), which trying again
// will not change.
func noNetwork(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}

// rangeStart parses the first byte position of "bytes START-END/TOTAL".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

func fileSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// watchedReader reports each read's size, for progress and stall detection.
type watchedReader struct {
	r      io.Reader
	onRead func(n int)
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.onRead(n)
	}
	return n, err
}

// fileWriter marks its errors as writeErrors.
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// writeError marks a failure to write the part, as opposed to reading the body.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }
