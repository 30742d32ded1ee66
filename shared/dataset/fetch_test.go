package dataset_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sgn/shared/dataset"
)

const (
	tinyImages = "train-images-idx3-ubyte.gz"
	tinyLabels = "train-labels-idx1-ubyte.gz"
)

// tinyData is a synthetic dataset in the official IDX format: 40 images
// of 1x4x5 and their labels, gzip'd, with the spec that lists their sums.
type tinyData struct {
	files  map[string][]byte // official name -> file as distributed
	pixels []byte
	labels []byte
}

func newTiny() *tinyData {
	const n = 40
	d := &tinyData{files: map[string][]byte{}}
	for i := 0; i < n*20; i++ {
		d.pixels = append(d.pixels, byte(i*7))
	}
	for i := 0; i < n; i++ {
		d.labels = append(d.labels, byte(i%3))
	}
	d.files[tinyImages] = gz(idxFile(dataset.IDXImages, []uint32{n, 4, 5}, d.pixels), "train-images-idx3-ubyte")
	d.files[tinyLabels] = gz(idxFile(dataset.IDXLabels, []uint32{n}, d.labels), "train-labels-idx1-ubyte")
	return d
}

func gz(b []byte, name string) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.NoCompression) // keeps the files big enough to cut
	zw.Name = name
	zw.ModTime = time.Unix(1504176627, 0)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (d *tinyData) spec(urls ...string) dataset.Spec {
	file := func(name string, content []byte) dataset.File {
		return dataset.File{Name: name, Size: int64(len(d.files[name])), SHA256: sum(d.files[name]), ContentSHA256: sum(content)}
	}
	return dataset.Spec{
		Name:    "tiny",
		Format:  dataset.FormatIDX,
		Shape:   []int{1, 4, 5},
		Classes: []string{"a", "b", "c"},
		URLs:    urls,
		Files: []dataset.File{
			file(tinyImages, idxFile(dataset.IDXImages, []uint32{40, 4, 5}, d.pixels)),
			file(tinyLabels, idxFile(dataset.IDXLabels, []uint32{40}, d.labels)),
		},
		Splits: map[string]dataset.Split{"train": {Files: []string{tinyImages, tinyLabels}}},
	}
}

func (d *tinyData) check(t *testing.T, ds *dataset.Dataset) {
	t.Helper()
	if ds.Len() != 40 || !bytes.Equal(ds.Images, d.pixels) {
		t.Fatalf("loaded %d examples, images equal: %v; want 40, true", ds.Len(), bytes.Equal(ds.Images, d.pixels))
	}
	for i, l := range ds.Labels {
		if l != int64(d.labels[i]) {
			t.Fatalf("label %d = %d, want %d", i, l, d.labels[i])
		}
	}
}

// server serves the tiny files under several behaviours, one per path
// prefix, and logs every request.
type server struct {
	*httptest.Server
	data *tinyData
	mu   sync.Mutex
	log  []string // "path range"
	seen map[string]int
	// hang, when set, is closed by /hang/ once it has sent half a file;
	// the handler then waits for the client to go away.
	hang chan struct{}
}

func newServer(t *testing.T, d *tinyData) *server {
	s := &server{data: d, seen: map[string]int{}, hang: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.log = append(s.log, strings.TrimSpace(r.URL.Path+" "+r.Header.Get("Range")))
	s.seen[r.URL.Path]++
	n := s.seen[r.URL.Path]
	s.mu.Unlock()
	mode, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	body, ok := s.data.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case "good":
	case "bad": // same size, wrong bytes
		body = bytes.Clone(body)
		body[len(body)/2] ^= 0xff
	case "unavailable":
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	case "flaky": // 503 once, then good
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	case "cut": // the first response stops half way
		if n == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	case "hang":
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		close(s.hang)
		<-r.Context().Done()
		return
	default:
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// fetcher returns a Fetcher for spec with a fresh cache, no offline
// copies and quick retries.
func fetcher(t *testing.T, spec dataset.Spec, opts ...dataset.Option) (*dataset.Fetcher, string) {
	cache := t.TempDir()
	base := []dataset.Option{
		dataset.WithSpecs(spec),
		dataset.WithCacheDir(cache),
		dataset.WithOfflineDirs("tiny"),
		dataset.WithRetries(2, time.Millisecond),
	}
	return dataset.NewFetcher(append(base, opts...)...), cache
}

func TestLoadDownloadsIntoCache(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	var bar bytes.Buffer
	f, cache := fetcher(t, d.spec(s.URL+"/good/"), dataset.WithProgress(&bar, true))
	ds, err := f.Load(context.Background(), "tiny", "train")
	if err != nil {
		t.Fatal(err)
	}
	d.check(t, ds)
	if !strings.Contains(bar.String(), tinyImages) || !strings.Contains(bar.String(), "100%") {
		t.Errorf("progress %q, want the file name and 100%%", bar.String())
	}
	if ds.Source != s.URL+"/good/" {
		t.Errorf("Source = %q, want the URL", ds.Source)
	}
	for name, want := range d.files {
		got, err := os.ReadFile(filepath.Join(cache, "tiny", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("cached %s: %v, equal %v", name, err, bytes.Equal(got, want))
		}
	}
	if parts, _ := filepath.Glob(filepath.Join(cache, "tiny", "*.part")); len(parts) != 0 {
		t.Errorf("left behind %v", parts)
	}

	// A second load is served by the cache alone, and not at a terminal
	// draws nothing.
	before := len(s.requests())
	bar.Reset()
	f2 := dataset.NewFetcher(dataset.WithSpecs(d.spec(s.URL+"/good/")), dataset.WithCacheDir(cache), dataset.WithProgress(&bar, false))
	ds, err = f2.Load(context.Background(), "tiny", "train")
	if err != nil {
		t.Fatal(err)
	}
	d.check(t, ds)
	if after := len(s.requests()); after != before {
		t.Errorf("second load made %d requests, want 0", after-before)
	}
	if ds.Source != "cache" {
		t.Errorf("Source = %q, want cache", ds.Source)
	}
	if bar.Len() != 0 {
		t.Errorf("wrote %q with no terminal", bar.String())
	}
}

func TestDownloadResumesCutResponse(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	f, _ := fetcher(t, d.spec(s.URL+"/cut/"))
	ds, err := f.Load(context.Background(), "tiny", "train")
	if err != nil {
		t.Fatal(err)
	}
	d.check(t, ds)
	want := fmt.Sprintf("/cut/%s bytes=%d-", tinyImages, len(d.files[tinyImages])/2)
	if !contains(s.requests(), want) {
		t.Errorf("requests %q, want one with %q", s.requests(), want)
	}
}

func TestDownloadResumesPartFile(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	f, cache := fetcher(t, d.spec(s.URL+"/good/"))
	os.MkdirAll(filepath.Join(cache, "tiny"), 0o755)
	if err := os.WriteFile(filepath.Join(cache, "tiny", tinyLabels+".part"), d.files[tinyLabels][:30], 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := f.Load(context.Background(), "tiny", "train")
	if err != nil {
		t.Fatal(err)
	}
	d.check(t, ds)
	want := fmt.Sprintf("/good/%s bytes=30-", tinyLabels)
	if !contains(s.requests(), want) {
		t.Errorf("requests %q, want %q", s.requests(), want)
	}
}

func TestDownloadMirrors(t *testing.T) {
	d := newTiny()
	tests := []struct {
		name    string
		mirrors []string
		want    []string // requests for the images file, in order
	}{
		{"wrong bytes, next mirror", []string{"bad", "good"}, []string{"/bad/", "/good/"}},
		{"503 retried then next mirror", []string{"unavailable", "good"}, []string{"/unavailable/", "/unavailable/", "/unavailable/", "/good/"}},
		{"503 once, retry succeeds", []string{"flaky", "good"}, []string{"/flaky/", "/flaky/"}},
		{"404 not retried", []string{"missing", "good"}, []string{"/missing/", "/good/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, d)
			var urls []string
			for _, m := range tt.mirrors {
				urls = append(urls, s.URL+"/"+m+"/")
			}
			f, _ := fetcher(t, d.spec(urls...))
			ds, err := f.Load(context.Background(), "tiny", "train")
			if err != nil {
				t.Fatal(err)
			}
			d.check(t, ds)
			var got []string
			for _, r := range s.requests() {
				if strings.HasSuffix(r, "/"+tinyImages) {
					got = append(got, strings.TrimSuffix(r, tinyImages))
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("requests for %s: %v, want %v", tinyImages, got, tt.want)
			}
		})
	}
}

func TestDownloadChecksumError(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	f, cache := fetcher(t, d.spec(s.URL+"/bad/"))
	_, err := f.Load(context.Background(), "tiny", "train")
	bad := bytes.Clone(d.files[tinyImages])
	bad[len(bad)/2] ^= 0xff
	for _, want := range []string{tinyImages, sum(bad), sum(d.files[tinyImages])} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to name %s", err, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(cache, "tiny", "*")); len(left) != 0 {
		t.Errorf("a bad download left %v in the cache", left)
	}
}

func TestLoadCancel(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	f, _ := fetcher(t, d.spec(s.URL+"/hang/"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-s.hang
		cancel()
	}()
	_, err := f.Load(ctx, "tiny", "train")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load error = %v, want context.Canceled", err)
	}
}

func TestLoadReplacesBadCacheCopy(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	f, cache := fetcher(t, d.spec(s.URL+"/good/"))
	path := filepath.Join(cache, "tiny", tinyImages)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, d.files[tinyLabels], 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := f.Load(context.Background(), "tiny", "train")
	if err != nil {
		t.Fatal(err)
	}
	d.check(t, ds)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, d.files[tinyImages]) {
		t.Error("the bad cached copy was not replaced")
	}
}

// writeFiles writes files into a new directory and returns it.
func writeFiles(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadLocalSources(t *testing.T) {
	d := newTiny()
	good := d.files
	// Repackaged as Debian does: same content, another gzip header.
	repacked := map[string][]byte{
		tinyImages: gz(idxFile(dataset.IDXImages, []uint32{40, 4, 5}, d.pixels), ""),
		tinyLabels: gz(idxFile(dataset.IDXLabels, []uint32{40}, d.labels), ""),
	}
	altered := map[string][]byte{
		tinyImages: gz(idxFile(dataset.IDXImages, []uint32{40, 4, 5}, bytes.Repeat([]byte{9}, 800)), ""),
		tinyLabels: good[tinyLabels],
	}
	tests := []struct {
		name      string
		from      map[string][]byte
		offline   map[string][]byte
		wantErr   []string // substrings; none means success
		wantLocal string   // "from" or "offline"
	}{
		{name: "from dir", from: good, wantLocal: "from"},
		{name: "offline copy", offline: good, wantLocal: "offline"},
		{name: "repackaged offline copy", offline: repacked, wantLocal: "offline"},
		{name: "altered offline copy", offline: altered, wantErr: []string{tinyImages, sum(altered[tinyImages]), sum(good[tinyImages])}},
		{name: "altered from dir wins over good offline", from: altered, offline: good, wantErr: []string{tinyImages, sum(altered[tinyImages]), sum(good[tinyImages])}},
		{name: "nowhere", wantErr: []string{"no good copy", "no network", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := httptest.NewServer(http.NotFoundHandler())
			dead.Close() // every download fails at once
			opts := []dataset.Option{}
			dirs := map[string]string{}
			if tt.from != nil {
				dirs["from"] = writeFiles(t, tt.from)
				opts = append(opts, dataset.WithFromDir(dirs["from"]))
			}
			if tt.offline != nil {
				dirs["offline"] = writeFiles(t, tt.offline)
				opts = append(opts, dataset.WithOfflineDirs("tiny", t.TempDir(), dirs["offline"]))
			}
			f, cache := fetcher(t, d.spec(dead.URL+"/"), opts...)
			ds, err := f.Load(context.Background(), "tiny", "train")
			if left, _ := os.ReadDir(cache); len(left) != 0 {
				t.Errorf("failed downloads left %v in the cache", left)
			}
			if tt.wantErr != nil {
				for _, want := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("error = %v, want it to contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d.check(t, ds)
			// The source names the directory without its path on this
			// machine.
			if want := filepath.Base(dirs[tt.wantLocal]); ds.Source != want {
				t.Errorf("Source = %q, want %q", ds.Source, want)
			}
		})
	}
}

func TestLoadLocalFileSizes(t *testing.T) {
	d := newTiny()
	// Far larger than the official file: hashed but not decompressed.
	large := make([]byte, 2<<20)
	dir := writeFiles(t, map[string][]byte{tinyImages: large, tinyLabels: d.files[tinyLabels]})
	f, _ := fetcher(t, d.spec(), dataset.WithFromDir(dir))
	_, err := f.Load(context.Background(), "tiny", "train")
	if err == nil || !strings.Contains(err.Error(), "sha256 "+sum(large)+", want "+sum(d.files[tinyImages])) {
		t.Errorf("error = %v, want a checksum error", err)
	}
	// Larger than any copy could be: refused unread. The file is sparse.
	if err := os.Truncate(filepath.Join(dir, tinyImages), 5<<30); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	_, err = f.Load(context.Background(), "tiny", "train")
	if err == nil || !strings.Contains(err.Error(), "5368709120 bytes, but the official") {
		t.Errorf("error = %v, want a refusal of the file's size", err)
	}
}

func TestLoadMissingFromDir(t *testing.T) {
	d := newTiny()
	missing := filepath.Join(t.TempDir(), "nowhere")
	f, _ := fetcher(t, d.spec(), dataset.WithFromDir(missing), dataset.WithOfflineDirs("tiny", writeFiles(t, d.files)))
	if _, err := f.Load(context.Background(), "tiny", "train"); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("error = %v, want one naming the missing directory", err)
	}
}

func TestLoadUnknown(t *testing.T) {
	f := dataset.NewFetcher(dataset.WithCacheDir(""))
	for _, args := range [][2]string{{"imagenet", "train"}, {"mnist", "validation"}} {
		if _, err := f.Load(context.Background(), args[0], args[1]); !errors.Is(err, dataset.ErrUnknown) {
			t.Errorf("Load(%q, %q) error = %v, want ErrUnknown", args[0], args[1], err)
		}
	}
}

func TestLoadCIFAR10(t *testing.T) {
	archive := cifarArchive(t, officialLike())
	spec := dataset.Specs()[2]
	spec.URLs = nil
	spec.Files = []dataset.File{{Name: "cifar-10-binary.tar.gz", Size: int64(len(archive)), SHA256: sum(archive)}}
	dir := writeFiles(t, map[string][]byte{"cifar-10-binary.tar.gz": archive})
	f := dataset.NewFetcher(dataset.WithSpecs(spec), dataset.WithCacheDir(""), dataset.WithFromDir(dir))
	for _, tt := range []struct {
		split  string
		labels []int64
	}{
		{"train", []int64{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}},
		{"test", []int64{0, 1}},
	} {
		ds, err := f.Load(context.Background(), "cifar10", tt.split)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ds.Labels) != fmt.Sprint(tt.labels) || len(ds.Images) != len(tt.labels)*cifarPixels || ds.Classes[9] != "truck" {
			t.Errorf("%s: labels %v, %d pixel bytes, classes %v", tt.split, ds.Labels, len(ds.Images), ds.Classes)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLoadPrefersLocalCopies checks that copies already on the machine are
// used before the network is tried: a machine behind a proxy that drops
// packets would otherwise wait for the download to time out.
func TestLoadPrefersLocalCopies(t *testing.T) {
	d := newTiny()
	s := newServer(t, d)
	offline := writeFiles(t, d.files)
	f, _ := fetcher(t, d.spec(s.URL+"/good/"), dataset.WithOfflineDirs("tiny", offline))
	ds, err := f.Load(context.Background(), "tiny", "train")
	if err != nil {
		t.Fatal(err)
	}
	d.check(t, ds)
	if n := len(s.requests()); n != 0 {
		t.Errorf("made %d requests with a local copy at hand, want 0", n)
	}
	if want := filepath.Base(offline); ds.Source != want {
		t.Errorf("Source = %q, want %q", ds.Source, want)
	}
}

// TestLoadWithoutNetwork checks that a machine without network and without
// a copy gets one line that says so, and no note per mirror.
func TestLoadWithoutNetwork(t *testing.T) {
	d := newTiny()
	noDNS := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}}
		},
	}}
	var notes bytes.Buffer
	spec := d.spec("http://mirror-1.invalid/", "http://mirror-2.invalid/", "http://mirror-3.invalid/")
	f, _ := fetcher(t, spec, dataset.WithHTTPClient(noDNS), dataset.WithProgress(&notes, true))
	_, err := f.Load(context.Background(), "tiny", "train")
	if err == nil {
		t.Fatal("Load succeeded without network or copies")
	}
	msg := err.Error()
	if !strings.Contains(msg, "no network") || strings.Count(msg, "no such host") != 1 || strings.Contains(msg, "\n") {
		t.Errorf("error = %q, want one line saying once that there is no network", msg)
	}
	if notes.Len() != 0 {
		t.Errorf("notes %q, want none: the error says it all", notes.String())
	}
}
