package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sgn/shared/cli"
)

// RunAsEnv names the environment variable that asks a tool's test binary
// to run as the tool.
const RunAsEnv = "SGN_TEST_RUN_AS"

// Tools runs a tool's test binary as the tool, and the other tools it
// needs from a temporary directory where Main builds them.
type Tools struct {
	self     string   // the tool whose test binary this is
	build    []string // the other tools Main builds
	dir      string   // where they are built; also the fixtures' and the cache's home
	buildErr error    // why they could not be built
}

// New returns the Tools of the test binary of tool self, which needs the
// tools named by build (directories of sgn/tools).
func New(self string, build ...string) *Tools {
	return &Tools{self: self, build: build}
}

// Main is the body of the test binary's TestMain, which exits with the
// code it returns. When RunAsEnv names the tool, Main runs main (which
// exits) instead of the tests. Otherwise it builds the other tools into a
// new temporary directory, runs the tests, and removes the directory. A
// failed build fails only the runs of the tools it was to make.
func (ts *Tools) Main(m *testing.M, main func()) int {
	if os.Getenv(RunAsEnv) == ts.self {
		main()
		os.Exit(0) // main exits itself; this is not reached
	}
	dir, err := os.MkdirTemp("", ts.self+"-test")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s test: %v\n", ts.self, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ts.dir = dir
	if len(ts.build) > 0 {
		ts.buildErr = buildTools(dir, ts.build...)
	}
	return m.Run()
}

// buildTools builds the named tools of sgn/tools into dir.
func buildTools(dir string, tools ...string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build %v: %w", tools, err)
	}
	args := []string{"build", "-o", dir}
	for _, t := range tools {
		args = append(args, "sgn/tools/"+t)
	}
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v: %s", err, out)
	}
	return nil
}

// Dir returns the temporary directory that Main made.
func (ts *Tools) Dir() string { return ts.dir }

// Command returns the command that runs tool with args: the test binary
// itself for the binary's own tool, else the tool Main built. Every tool
// caches downloads in Dir.
func (ts *Tools) Command(tool string, args ...string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if tool == ts.self {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the test binary: %w", err)
		}
		cmd = exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), RunAsEnv+"="+ts.self)
	} else {
		if ts.buildErr != nil {
			return nil, ts.buildErr
		}
		cmd = exec.Command(filepath.Join(ts.dir, tool), args...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "SGN_CACHE="+filepath.Join(ts.dir, "cache"))
	return cmd, nil
}

// Result is how a run of a tool ended.
type Result struct {
	Tool   string // the tool that ran
	Code   int    // its exit code
	Stdout []byte
	Stderr string
}

// Exec runs tool with stdin (nil: no input) and args. Its error is about
// running the tool at all; a tool that fails has a Result with a nonzero
// Code.
func (ts *Tools) Exec(tool string, stdin []byte, args ...string) (Result, error) {
	cmd, err := ts.Command(tool, args...)
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", tool, err)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return Result{}, fmt.Errorf("run %s: %w", tool, err)
	}
	return Result{tool, cmd.ProcessState.ExitCode(), out.Bytes(), errOut.String()}, nil
}

// Run is Exec that fails the test if the tool cannot be run.
func (ts *Tools) Run(t testing.TB, tool string, stdin []byte, args ...string) Result {
	t.Helper()
	r, err := ts.Exec(tool, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// MustRun is Run that fails the test unless the tool exits 0.
func (ts *Tools) MustRun(t testing.TB, tool string, stdin []byte, args ...string) Result {
	t.Helper()
	r := ts.Run(t, tool, stdin, args...)
	if r.Code != 0 {
		t.Fatalf("%s %v: exit %d, stderr %q", tool, args, r.Code, r.Stderr)
	}
	return r
}

// AssertOneLineError checks that a run failed with code, wrote nothing to
// stdout, and wrote to stderr one line from the tool (plus the usage hint
// for a usage error, code 2), no panic or goroutine dump, that contains
// each of want.
func AssertOneLineError(t testing.TB, r Result, code int, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	if code == 2 && len(lines) == 2 && lines[1] == "Run '"+r.Tool+" -h' for usage." {
		lines = lines[:1]
	}
	if r.Code != code || len(lines) != 1 || !strings.HasPrefix(lines[0], r.Tool+": ") ||
		strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine") {
		t.Errorf("exit %d, stderr %q; want %d and one line from %s", r.Code, r.Stderr, code, r.Tool)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr %q does not mention %q", r.Stderr, w)
		}
	}
	if len(r.Stdout) != 0 {
		t.Errorf("wrote %d bytes to stdout", len(r.Stdout))
	}
}

// A Refusal is a run that a tool must refuse with a one-line error.
type Refusal struct {
	Name  string   // the subtest's name
	Args  []string // the tool's arguments
	Stdin string   // the file given on stdin ("": none)
	Code  int      // the exit code
	Want  []string // what the error must mention
}

// AssertRefusals runs tool for each refusal, in a subtest of t, and checks
// the run with AssertOneLineError.
func (ts *Tools) AssertRefusals(t *testing.T, tool string, refusals []Refusal) {
	t.Helper()
	for _, rf := range refusals {
		t.Run(rf.Name, func(t *testing.T) {
			var stdin []byte
			if rf.Stdin != "" {
				stdin = ReadFile(t, rf.Stdin)
			}
			r := ts.Run(t, tool, stdin, rf.Args...)
			AssertOneLineError(t, r, rf.Code, rf.Want...)
		})
	}
}

// AssertHelp checks that a run of the tool with -h exited 0 with nothing
// on stdout and, on stderr, the tool's usage with examples, flag and
// -version, and no default that contradicts the one the flag's text
// states in words (as a sentinel such as "(default -1)" does).
func AssertHelp(t testing.TB, r Result, flag string) {
	t.Helper()
	if r.Code != 0 || !strings.Contains(r.Stderr, "Usage: "+r.Tool) || !strings.Contains(r.Stderr, "Examples:") ||
		!strings.Contains(r.Stderr, flag) || !strings.Contains(r.Stderr, "-version") || len(r.Stdout) != 0 {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage with flags and examples", r.Code, r.Stderr)
	}
	for _, line := range strings.Split(r.Stderr, "\n") {
		// The flag package indents each flag's usage with a tab.
		if !strings.HasPrefix(line, "    \t") {
			continue
		}
		if strings.Contains(line, "(default -") || strings.Count(line, "(default") > 1 {
			t.Errorf("-h: %q shows a sentinel or a second default", strings.TrimSpace(line))
		}
	}
}

// Terminal stands for a terminal on stdin, which cli.IsTerminal takes for
// one; reading it fails at once rather than waiting for someone to type.
type Terminal struct{}

// IsTerminal says that Terminal is one.
func (Terminal) IsTerminal() bool { return true }

func (Terminal) Read([]byte) (int, error) {
	return 0, errors.New("read from the terminal: the tool should have refused it")
}

// AssertRefusesTerminal checks that a tool's run, given args and a terminal
// on stdin, refuses at once with a one-line usage error saying so rather
// than waiting for input.
func AssertRefusesTerminal(t testing.TB, tool string, run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, Terminal{}, &stdout, &stderr)
	code := cli.Report(tool, err, &stderr)
	if code != cli.ExitUsage || !strings.Contains(stderr.String(), "stdin, which is a terminal") || strings.Count(stderr.String(), "\n") != 2 {
		t.Errorf("%s %v with a terminal on stdin: exit %d, stderr %q; want 2 and one line saying stdin is a terminal", tool, args, code, stderr.String())
	}
}

// AssertVersion checks that a run of the tool with -version exited 0 with
// one line on stdout naming the tool and its module version, and nothing
// on stderr.
func AssertVersion(t testing.TB, r Result) {
	t.Helper()
	out := string(r.Stdout)
	if r.Code != 0 || !strings.HasPrefix(out, r.Tool+" ") || strings.Count(out, "\n") != 1 || !strings.Contains(out, "go1.") || r.Stderr != "" {
		t.Errorf("-version: exit %d, stdout %q, stderr %q; want 0 and one line with the tool's version", r.Code, out, r.Stderr)
	}
}
