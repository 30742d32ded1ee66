package stream_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSchemaKeysDefinedOnce checks that the module's Go code names the
// stream schema's metadata keys only through this package's constants: a
// key spelt out elsewhere is a second definition that can drift.
func TestSchemaKeysDefinedOnce(t *testing.T) {
	keys := schemaKeys(t, "schema.go")
	if len(keys) < 19 {
		t.Fatalf("found %d metadata keys in schema.go, want them all", len(keys))
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			// This package owns the keys; safetensors is another
			// format, with keys of its own that may share a spelling.
			case filepath.Join("format", "stream"), filepath.Join("format", "safetensors"), ".git", "testdata":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && keys[s] != "" {
				t.Errorf("%s: %q spelt out; use stream.%s", rel, s, keys[s])
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// schemaKeys returns the metadata keys (values beginning "sgn.") defined as
// constants in file, mapped to their constants' names.
func schemaKeys(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					continue
				}
				if s, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(s, "sgn.") {
					keys[s] = vs.Names[i].Name
				}
			}
		}
	}
	return keys
}
