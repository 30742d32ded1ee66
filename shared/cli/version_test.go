package cli

import (
	"errors"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.0"}},
			"sgn-x v1.2.0 go1.26.0"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}},
			"sgn-x (devel) (abc123+dirty, 2026-01-02T03:04:05Z) go1.26.0"},
		{"nothing recorded", debug.BuildInfo{}, "sgn-x (devel)"},
	}
	for _, tt := range tests {
		if got := versionLine("sgn-x", &tt.info); got != tt.want {
			t.Errorf("%s: versionLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	var stderr strings.Builder
	fs := NewFlagSet("sgn-x", "sgn-x [flags]", "", &stderr)
	if err := Parse(fs, []string{"-version"}); !errors.Is(err, ErrVersion) {
		t.Errorf("Parse(-version) = %v, want ErrVersion", err)
	}
	var stdout strings.Builder
	stderr.Reset()
	if code := Exit("sgn-x", ErrVersion, &stdout, &stderr); code != ExitOK || !strings.HasPrefix(stdout.String(), "sgn-x ") || stderr.Len() != 0 {
		t.Errorf("Exit(ErrVersion): %d, stdout %q, stderr %q; want 0 and the version on stdout", code, stdout.String(), stderr.String())
	}
}
