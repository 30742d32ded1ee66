// Package cli holds the conventions every sgn tool follows: exit codes,
// one-line error messages, usage text, signals, and quiet handling of
// closed pipes.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Exit codes shared by all tools.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// UsageError marks an error as the user's misuse of the command line; Main
// exits with ExitUsage for it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Main runs a tool's body and turns its error into the exit code and the
// single line on stderr that the tools promise.
//
// SIGINT or SIGTERM cancels the context run is given, with an Interrupted
// cause. A tool that stops for it (having removed its temporary files, or
// saved its state) reports its line and then dies of that signal, the
// conventional status (130 or 143 in a shell), so that the script or make
// that ran it stops too; one that finished its work anyway exits as usual.
// A second signal ends the tool at once; the temporary files it leaves are
// removed by the next run that writes the same output.
//
// With SGN_CPUPROFILE=FILE in the environment (ProfileEnv), the run's CPU
// profile is written to FILE; with SGN_MEMPROFILE=FILE (MemProfileEnv),
// its heap profile when it ends.
//
// A write to a closed pipe (as in `sgn-fetch mnist | head`) fails with
// EPIPE rather than killing the tool with SIGPIPE, and the tool ends
// quietly with success, the way Unix filters behave.
func Main(name string, run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error) {
	// Without a handler for SIGPIPE, the runtime kills a program whose
	// write to stdout or stderr meets a closed pipe (exit 141).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		cancel(&Interrupted{Signal: <-sigs})
		dieOf(<-sigs)
	}()
	stopProfile, err := startProfile(os.Getenv)
	if err == nil {
		err = run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		err = errors.Join(err, stopProfile())
	}
	code := Exit(name, err, os.Stdout, os.Stderr)
	var in *Interrupted
	if code != ExitOK && errors.As(context.Cause(ctx), &in) {
		dieOf(in.Signal)
	}
	os.Exit(code)
}

// Interrupted is the cause of the context Main gives a tool once a signal
// has asked it to stop.
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string {
	switch e.Signal {
	case os.Interrupt:
		return "interrupted by SIGINT"
	case syscall.SIGTERM:
		return "interrupted by SIGTERM"
	}
	return "interrupted by " + e.Signal.String()
}

// Is makes an interruption a cancellation: errors.Is(err, context.Canceled)
// holds for it.
func (e *Interrupted) Is(target error) bool { return target == context.Canceled }

// dieOf ends the process by sig, with the signal's default action, or
// with status 128+sig if that does not end it.
func dieOf(sig os.Signal) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		os.Exit(ExitFailure)
	}
	signal.Reset(s)
	syscall.Kill(os.Getpid(), s)
	// The signal arrives asynchronously.
	time.Sleep(time.Second)
	os.Exit(128 + int(s))
}

// Exit is Report, except that for ErrVersion it prints the tool's Version
// on stdout.
func Exit(name string, err error, stdout, stderr io.Writer) int {
	if errors.Is(err, ErrVersion) {
		fmt.Fprintln(stdout, Version(name))
		return ExitOK
	}
	return Report(name, err, stderr)
}

// Report writes err to w as one line prefixed with the tool's name and
// returns the exit code for it.
func Report(name string, err error, w io.Writer) int {
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp), errors.Is(err, ErrVersion):
		return ExitOK
	case IsBrokenPipe(err):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(w, "%s: %s\nRun '%s -h' for usage.\n", name, oneLine(ue.Msg), name)
		return ExitUsage
	default:
		fmt.Fprintf(w, "%s: %s\n", name, oneLine(err.Error()))
		return ExitFailure
	}
}

// IsBrokenPipe reports whether err comes from writing to a pipe whose reader
// has gone away.
func IsBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}

func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}

// IsTerminal reports whether f is a terminal, which is when tools draw
// progress bars, refuse to write binary data and refuse to wait for input
// typed at it: an *os.File open on one, or a value whose IsTerminal method
// says so (a test's stand-in).
func IsTerminal(f any) bool {
	if t, ok := f.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	// A character device is not enough: /dev/null is one too.
	return term.IsTerminal(int(file.Fd()))
}

// NewFlagSet returns a flag set that reports errors instead of exiting, with
// a usage text made of synopsis, the flags, and examples, and with the
// -version flag every tool has (see Parse).
func NewFlagSet(name, synopsis, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("version", false, "print the version (module version and source revision) and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(fs.Output(), "\nExamples:\n%s\n", examples)
		}
	}
	return fs
}

// Parse parses args with fs; a malformed command line becomes a UsageError
// (the flag package has already printed the usage text), and -version
// returns ErrVersion, which the tool returns for Main to print the version.
func Parse(fs *flag.FlagSet, args []string) error {
	// The flag package would print its own message and the whole usage text
	// on an error; tools print one line instead, and the usage only for -h.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return &UsageError{Msg: err.Error()}
	}
	if v := fs.Lookup("version"); v != nil && v.Value.String() == "true" {
		return ErrVersion
	}
	return nil
}
