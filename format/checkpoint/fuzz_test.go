package checkpoint

import (
	"bytes"
	"encoding/json"
	"runtime/metrics"
	"testing"
)

// maxFuzzAlloc is what decoding one input may allocate, on top of a few
// copies of the input: the 16 MiB bomb of the seeds, decoded twice over.
const maxFuzzAlloc = 64 << 20

// allocated returns the bytes the program has allocated so far; unlike
// the resident size, it counts an allocation whose pages are never
// touched, so a bomb fails the run even when the kernel would let it by.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzDecode feeds arbitrary bytes to Decode both as a whole file and, so
// that the payload parser is reached past the checksums, as a payload sealed
// in a valid container. Decoding must never panic, and whatever it accepts
// must survive an encode/decode round trip. Bounded by a configuration
// (WithSizeFromConfig), decoding must stay within a memory cap whatever the
// header declares: 4 GiB of zeros takes 131 KB of RLE blocks.
func FuzzDecode(f *testing.F) {
	valid := encodeBytes(f, sample())
	f.Add(valid)
	f.Add(encodeBytes(f, &Checkpoint{}))
	f.Add(valid[:len(valid)-1])
	f.Add(valid[:headerSize])
	f.Add(append(append([]byte{}, valid...), 0))
	flipped := append([]byte{}, valid...)
	flipped[len(flipped)/2] ^= 0x40
	f.Add(flipped)
	f.Add([]byte{})
	f.Add([]byte(magic))
	f.Add(newPayload(`{"a":1}`).u32(1).tensor("w", []int64{2, 2}, 4).u32(1).str("rng").u64(1).raw(7).b)
	f.Add(newPayload("").u32(1).str("w").u32(1).u64(1 << 62).u64(0).b)
	f.Add(newPayload("").u32(0xffffffff).b)
	f.Add(zeroBomb([]byte(`{"size":1}`), 16<<20))

	// A configuration that bounds the payload to 1 MiB.
	bounded := WithSizeFromConfig(func(json.RawMessage) (int64, error) { return 1 << 20, nil })

	f.Fuzz(func(t *testing.T, data []byte) {
		before := allocated()
		Decode(bytes.NewReader(data), bounded)
		if n := allocated() - before; n > 16<<20+4*uint64(len(data)) {
			t.Fatalf("decoding %d bytes bounded to a 1 MiB payload allocated %d bytes", len(data), n)
		}
		// Unbounded, Decode takes what a file's blocks really decode to, up
		// to DefaultMaxSize: the seeds' largest is the 16 MiB bomb, and
		// every copy of the input (sealed, decoded, re-encoded) costs a
		// few times its size.
		before = allocated()
		if c, err := Decode(bytes.NewReader(data)); err == nil {
			roundTrip(t, c)
		}
		if c, err := Decode(bytes.NewReader(sealed(t, data))); err == nil {
			roundTrip(t, c)
		}
		if n := allocated() - before; n > maxFuzzAlloc+16*uint64(len(data)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), n)
		}
	})
}

func roundTrip(t *testing.T, c *Checkpoint) {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, c); err != nil {
		t.Fatalf("decoded checkpoint does not encode: %v", err)
	}
	again, err := Decode(&buf)
	if err != nil {
		t.Fatalf("re-encoded checkpoint does not decode: %v", err)
	}
	checkEqual(t, again, c)
}
