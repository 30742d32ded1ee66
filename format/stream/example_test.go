package stream_test

import (
	"bytes"
	"fmt"
	"log"

	"sgn/format/stream"
)

// A stream is written batch by batch and read like a bufio.Scanner.
func Example() {
	h := stream.Header{Shape: []int{1, 2, 2}, Elem: stream.Uint8,
		Metadata: map[string]string{stream.MetaDataset: "toy", stream.MetaPixelScale: "0.00392156862745098"}}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h)
	if err != nil {
		log.Fatal(err)
	}
	// Three 1×2×2 images, labels 0, 1, 2.
	b := &stream.Batch{Pixels: []uint8{0, 255, 0, 255, 1, 2, 3, 4, 9, 9, 9, 9}, Labels: []int64{0, 1, 2}}
	if err := w.Write(b); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := stream.NewReader(&buf)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println("shape", r.Header().Shape, "dataset", r.Header().Metadata[stream.MetaDataset])
	for r.Next() {
		b := r.Batch()
		for i := range b.Len() {
			fmt.Println("label", b.Labels[i], "pixels", b.Pixels[4*i:4*i+4])
		}
	}
	if err := r.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// shape [1 2 2] dataset toy
	// label 0 pixels [0 255 0 255]
	// label 1 pixels [1 2 3 4]
	// label 2 pixels [9 9 9 9]
}
