package dataset_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"sgn/shared/dataset"
)

const cifarPixels = 3 * 32 * 32

// cifarBatch returns n records whose label is (seed+i)%10 and whose pixels
// all equal seed+i (mod 256), with the red plane's first byte marked 255
// and the blue plane's last byte 0 to check the CHW layout.
func cifarBatch(seed, n int) []byte {
	b := make([]byte, 0, n*(1+cifarPixels))
	for i := 0; i < n; i++ {
		b = append(b, byte((seed+i)%10))
		img := bytes.Repeat([]byte{byte(seed + i)}, cifarPixels)
		img[0], img[cifarPixels-1] = 255, 0
		b = append(b, img...)
	}
	return b
}

type member struct {
	name string
	data []byte
	typ  byte
}

// cifarArchive returns a tar.gz laid out like cifar-10-binary.tar.gz:
// a directory entry, then the members (in the given order, which like the
// official archive need not be sorted).
func cifarArchive(t testing.TB, members []member) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		h := &tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data))}
		if m.typ != 0 {
			h.Typeflag, h.Size, h.Linkname = m.typ, 0, "/etc/passwd"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typ == 0 {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// officialLike returns the members of a small archive in the official
// format: five training batches of 3 records and a test batch of 2, out of
// order, with the meta file and readme.
func officialLike() []member {
	d := "cifar-10-batches-bin/"
	return []member{
		{name: d + "data_batch_1.bin", data: cifarBatch(0, 3)},
		{name: d + "batches.meta.txt", data: []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")},
		{name: d + "data_batch_3.bin", data: cifarBatch(20, 3)},
		{name: d + "data_batch_4.bin", data: cifarBatch(30, 3)},
		{name: d + "test_batch.bin", data: cifarBatch(100, 2)},
		{name: d + "readme.html", data: []byte("<meta HTTP-EQUIV=\"REFRESH\" content=\"0; url=http://www.cs.toronto.edu/~kriz/cifar.html\">\n")},
		{name: d + "data_batch_2.bin", data: cifarBatch(10, 3)},
		{name: d + "data_batch_5.bin", data: cifarBatch(40, 3)},
	}
}

func TestReadCIFAR10(t *testing.T) {
	d := "cifar-10-batches-bin/"
	train := []string{d + "data_batch_1.bin", d + "data_batch_2.bin", d + "data_batch_3.bin", d + "data_batch_4.bin", d + "data_batch_5.bin"}
	raw := func(ms []member) *bytes.Reader {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, m := range ms {
			h := &tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data))}
			if m.typ != 0 {
				h.Typeflag, h.Size, h.Linkname = m.typ, 0, "x"
			}
			tw.WriteHeader(h)
			tw.Write(m.data)
		}
		tw.Close()
		return bytes.NewReader(b.Bytes())
	}
	t.Run("train in member order", func(t *testing.T) {
		images, labels, err := dataset.ReadCIFAR10(raw(officialLike()), train)
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) != 15 || len(images) != 15*cifarPixels {
			t.Fatalf("got %d labels, %d pixel bytes; want 15, %d", len(labels), len(images), 15*cifarPixels)
		}
		for i := 0; i < 15; i++ {
			seed := 10*(i/3) + i%3 // batch b holds seeds 10b, 10b+1, 10b+2
			if labels[i] != int64(seed%10) {
				t.Errorf("label %d = %d, want %d", i, labels[i], seed%10)
			}
			img := images[i*cifarPixels : (i+1)*cifarPixels]
			if img[0] != 255 || img[cifarPixels-1] != 0 || img[1] != byte(seed) || img[2048] != byte(seed) {
				t.Errorf("image %d: bytes %d %d %d %d, want 255 %d %d 0", i, img[0], img[1], img[2048], img[cifarPixels-1], seed, seed)
			}
		}
	})
	t.Run("test", func(t *testing.T) {
		images, labels, err := dataset.ReadCIFAR10(raw(officialLike()), []string{d + "test_batch.bin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) != 2 || labels[0] != 0 || labels[1] != 1 || images[cifarPixels+1] != 101 {
			t.Errorf("test split: labels %v, second image byte %d; want [0 1], 101", labels, images[cifarPixels+1])
		}
	})
	test := []string{d + "test_batch.bin"}
	refusals := []struct {
		name    string
		in      *bytes.Reader
		members []string
		wantErr string
	}{
		{"missing member", raw(officialLike()[:3]), train, "data_batch_2.bin is missing"},
		{"repeated member", raw(append(officialLike(), member{name: d + "test_batch.bin", data: cifarBatch(0, 1)})), test, "appears twice"},
		{"partial record", raw([]member{{name: d + "test_batch.bin", data: cifarBatch(0, 2)[:5000]}}), test, "positive multiple of 3073"},
		{"empty member", raw([]member{{name: d + "test_batch.bin"}}), test, "positive multiple of 3073"},
		{"symlink", raw([]member{{name: d + "test_batch.bin", typ: tar.TypeSymlink}}), test, "not a regular file"},
		{"bad label", raw([]member{{name: d + "test_batch.bin", data: append([]byte{10}, make([]byte, cifarPixels)...)}}), test, "label 10"},
		{"not a tar", bytes.NewReader(bytes.Repeat([]byte("x"), 1024)), test, "cifar-10 archive"},
		{"truncated", bytes.NewReader(func() []byte { b, _ := readAll(raw(officialLike())); return b[:5000] }()), train, "unexpected EOF"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := dataset.ReadCIFAR10(tt.in, tt.members)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// A member header that claims more than the limit is refused from the
// header alone; nothing follows it in the archive.
func TestReadCIFAR10RefusesOversizedMember(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	name := "cifar-10-batches-bin/test_batch.bin"
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1000 * 10000 * 3073}); err != nil {
		t.Fatal(err)
	}
	tw.Flush() // the header only; the data is never written
	_, _, err := dataset.ReadCIFAR10(&b, []string{name})
	if err == nil || !strings.Contains(err.Error(), "holds 30730000000 bytes") {
		t.Fatalf("error = %v, want a refusal of the member's size", err)
	}
}

func readAll(r *bytes.Reader) ([]byte, error) {
	b := make([]byte, r.Len())
	_, err := r.Read(b)
	return b, err
}
