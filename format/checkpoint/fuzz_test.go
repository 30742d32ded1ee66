package checkpoint

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode both as a whole file and, so
// that the payload parser is reached past the checksums, as a payload sealed
// in a valid container. Decoding must never panic, and whatever it accepts
// must survive an encode/decode round trip.
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

	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := Decode(bytes.NewReader(data)); err == nil {
			roundTrip(t, c)
		}
		if c, err := Decode(bytes.NewReader(sealed(t, data))); err == nil {
			roundTrip(t, c)
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
