// Package cli holds the conventions every sgn tool follows: exit codes,
// one-line error messages, usage text, and quiet handling of closed pipes.
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
// single line on stderr that the tools promise. A write to a closed pipe
// (as in `sgn-fetch mnist | head`) ends the tool quietly with success,
// the way Unix filters behave.
func Main(name string, run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	os.Exit(Report(name, err, os.Stderr))
}

// Report writes err to w as one line prefixed with the tool's name and
// returns the exit code for it.
func Report(name string, err error, w io.Writer) int {
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
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

// IsTerminal reports whether f is a character device (a terminal), which is
// when tools draw progress bars and refuse to write binary data.
func IsTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	// A character device is not enough: /dev/null is one too.
	return term.IsTerminal(int(file.Fd()))
}

// NewFlagSet returns a flag set that reports errors instead of exiting, with
// a usage text made of synopsis, the flags, and examples.
func NewFlagSet(name, synopsis, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
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
// (the flag package has already printed the usage text).
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
	return nil
}
