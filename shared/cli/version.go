package cli

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// ErrVersion is what Parse returns for -version; Main then prints Version
// on stdout and exits 0.
var ErrVersion = errors.New("version requested")

// Version returns the line -version prints: the tool's name, the module's
// version and the version control revision it was built from, as the
// build recorded them.
func Version(name string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (no build information)"
	}
	return versionLine(name, info)
}

// versionLine formats info: "NAME VERSION (REVISION[+dirty], TIME) GO".
func versionLine(name string, info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, when string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	var vcs []string
	if rev != "" {
		if dirty {
			rev += "+dirty"
		}
		vcs = append(vcs, rev)
	}
	if when != "" {
		vcs = append(vcs, when)
	}
	line := fmt.Sprintf("%s %s", name, version)
	if len(vcs) > 0 {
		line += " (" + strings.Join(vcs, ", ") + ")"
	}
	if info.GoVersion != "" {
		line += " " + info.GoVersion
	}
	return line
}
