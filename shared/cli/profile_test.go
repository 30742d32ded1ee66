package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartProfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cpu.pprof")
	env := map[string]string{ProfileEnv: path}
	stop, err := startProfile(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A profile is a gzip-compressed protocol buffer.
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Errorf("the profile (%d bytes) is not gzip data", len(b))
	}

	stop, err = startProfile(func(string) string { return "" })
	if err != nil || stop() != nil {
		t.Errorf("without %s: %v", ProfileEnv, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("without %s, files were written: %v", ProfileEnv, entries)
	}

	env[ProfileEnv] = filepath.Join(dir, "missing", "cpu.pprof")
	if _, err := startProfile(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), ProfileEnv) {
		t.Errorf("an unwritable profile: error %v, want one naming %s", err, ProfileEnv)
	}
}

func TestStartMemProfile(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	env := map[string]string{ProfileEnv: cpu, MemProfileEnv: mem}
	stop, err := startProfile(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{cpu, mem} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s (%d bytes) is not gzip data", path, len(b))
		}
	}

	// The heap profile is written at the end: a directory gone by then
	// is an error naming the variable, and the CPU profile still ends.
	env = map[string]string{MemProfileEnv: filepath.Join(dir, "gone", "mem.pprof")}
	stop, err = startProfile(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err == nil || !strings.Contains(err.Error(), MemProfileEnv) {
		t.Errorf("an unwritable heap profile: error %v, want one naming %s", err, MemProfileEnv)
	}
}
