package convert_test

import (
	"fmt"
	"math/rand/v2"

	"sgn/shared/classifier"
	"sgn/shared/convert"
	"sgn/shared/model"
)

func ExampleToSafetensors() {
	cfg := model.Config{Arch: "mlp", InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		panic(err)
	}
	f, err := convert.ToSafetensors(&classifier.Classifier{Net: net})
	if err != nil {
		panic(err)
	}
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.Shape)
	}
	// Output:
	// fc1.weight [256 784]
	// fc1.bias [256]
	// fc2.weight [256 256]
	// fc2.bias [256]
	// fc3.weight [10 256]
	// fc3.bias [10]
}
