package safetensors_test

import (
	"bytes"
	"fmt"

	"sgn/format/safetensors"
)

func Example() {
	var buf bytes.Buffer
	err := safetensors.Encode(&buf, &safetensors.File{
		Metadata: map[string]string{safetensors.KeyFormat: "pt"},
		Tensors:  []safetensors.Tensor{safetensors.Float32("fc.weight", []int{2, 2}, []float32{1, 2, 3, 4})},
	})
	if err != nil {
		panic(err)
	}
	f, err := safetensors.Decode(&buf)
	if err != nil {
		panic(err)
	}
	t, _ := f.Tensor("fc.weight")
	v, _ := t.Float32s()
	fmt.Println(t.DType, t.Shape, v, f.Metadata[safetensors.KeyFormat])
	// Output: F32 [2 2] [1 2 3 4] pt
}
