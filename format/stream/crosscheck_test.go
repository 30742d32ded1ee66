package stream

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// TestArrowJSReadsStream checks that Apache Arrow JS reads a stream written
// here and sees the tensor column's extension type. It needs node and the
// npm package apache-arrow, found through SGN_ARROWJS, e.g.
//
//	(mkdir -p /tmp/arrowjs && cd /tmp/arrowjs && npm install apache-arrow)
//	SGN_ARROWJS=/tmp/arrowjs/node_modules go test -run ArrowJS ./format/stream
func TestArrowJSReadsStream(t *testing.T) {
	modules := os.Getenv("SGN_ARROWJS")
	if modules == "" {
		t.Skip("SGN_ARROWJS is not set to a node_modules folder holding apache-arrow")
	}
	if _, err := os.Stat(filepath.Join(modules, "apache-arrow", "package.json")); err != nil {
		t.Skipf("apache-arrow is not installed under SGN_ARROWJS: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	h := testHeader(Uint8, true)
	path := filepath.Join(t.TempDir(), "examples.arrow")
	if err := os.WriteFile(path, writeStream(t, h, []int{5}, WithBatchRows(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "crosscheck.mjs"), path)
	cmd.Env = append(os.Environ(), "SGN_ARROWJS="+modules)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	t.Logf("arrow js: %s", out)
	var got struct {
		Rows              int
		Fields            []string
		SchemaMetadata    map[string]string
		ImageListSize     int
		ImageNullable     bool
		ExtensionName     string
		ExtensionMetadata string
		FirstImage        []int
		FirstLabel        int64
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse node output: %v", err)
	}
	want := testBatch(h, 0, 1)
	wantImage := make([]int, len(want.Pixels))
	for i, p := range want.Pixels {
		wantImage[i] = int(p)
	}
	if got.Rows != 5 || got.ImageListSize != 6 || got.ImageNullable ||
		got.ExtensionName != FixedShapeTensorName ||
		got.ExtensionMetadata != `{"shape":[1,3,2],"dim_names":["C","H","W"]}` ||
		!reflect.DeepEqual(got.SchemaMetadata, h.Metadata) ||
		!reflect.DeepEqual(got.FirstImage, wantImage) || got.FirstLabel != want.Labels[0] {
		t.Errorf("arrow js saw %+v", got)
	}
	if len(got.Fields) != 6 || got.Fields[1] != "label: Int64" {
		t.Errorf("arrow js fields %v", got.Fields)
	}
}

// TestArrowJSExample runs the JavaScript example of docs/streams.md,
// docs/examples/read-stream.mjs, on a zstd stream with a uint8 image
// column and a float32 tensor column, as sgn-fetch -zstd and sgn-grad
// write them. It needs node and the npm packages apache-arrow and fzstd
// under SGN_ARROWJS (make test-js installs them).
func TestArrowJSExample(t *testing.T) {
	modules := os.Getenv("SGN_ARROWJS")
	if modules == "" {
		t.Skip("SGN_ARROWJS is not set to a node_modules folder holding apache-arrow and fzstd")
	}
	for _, pkg := range []string{"apache-arrow", "fzstd"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			t.Skipf("%s is not installed under SGN_ARROWJS: %v", pkg, err)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	h := testHeader(Uint8, true)
	path := filepath.Join(t.TempDir(), "examples.arrows")
	if err := os.WriteFile(path, writeStream(t, h, []int{5}, WithBatchRows(2), WithZstd()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("..", "..", "docs", "examples", "read-stream.mjs"), path)
	cmd.Env = append(os.Environ(), "NODE_MODULES="+modules)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Rows       int
		Dataset    string
		PixelScale float64
		Shapes     map[string][]int
		FirstLabel int64
		First      map[string][]float64
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("parse node output %s: %v", out, err)
	}
	want := testBatch(h, 0, 1)
	wantFirst := map[string][]float64{ImageColumn: {}, "selfgrad.input": {}}
	for _, p := range want.Pixels {
		wantFirst[ImageColumn] = append(wantFirst[ImageColumn], float64(p))
	}
	for _, v := range want.Extra[3].Float32 {
		wantFirst["selfgrad.input"] = append(wantFirst["selfgrad.input"], float64(v))
	}
	wantShapes := map[string][]int{ImageColumn: h.Shape, "selfgrad.input": h.Extra[3].Shape}
	if got.Rows != 5 || got.Dataset != "toy" || math.Abs(got.PixelScale-1.0/255) > 1e-12 || got.FirstLabel != want.Labels[0] ||
		!reflect.DeepEqual(got.Shapes, wantShapes) || !reflect.DeepEqual(got.First, wantFirst) {
		t.Errorf("read-stream.mjs printed %s", out)
	}
}
