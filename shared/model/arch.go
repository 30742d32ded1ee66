package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// architecture is one entry of the -arch table: its parameters, its forward
// pass, the names of its tap points after "input", and which input shapes it
// takes.
type architecture struct {
	params  func(c Config) []paramSpec
	forward func(f *forward, x *G.Node) (*G.Node, error)
	taps    []string
	accepts func(inShape []int) error
}

var architectures = map[string]architecture{
	"mlp": {
		params: func(c Config) []paramSpec {
			in := c.InShape[0] * c.InShape[1] * c.InShape[2]
			return concat(linearSpec("fc1", in, mlpWidth), linearSpec("fc2", mlpWidth, mlpWidth), linearSpec("fc3", mlpWidth, c.Classes))
		},
		forward: func(f *forward, x *G.Node) (*G.Node, error) {
			h := f.tapped("fc1", f.relu(f.linear("fc1", f.flatten(x))))
			h = f.tapped("fc2", f.relu(f.linear("fc2", h)))
			return f.linear("fc3", h), f.err
		},
		taps: []string{"fc1", "fc2"},
	},
	// madry-mnist is the CNN of Madry et al. (2018), the MNIST benchmark of
	// Madry et al.'s MNIST network: two 5x5 convolutions with max pooling and two dense layers.
	"madry-mnist": {
		params: func(c Config) []paramSpec {
			h, w := c.InShape[1]/4, c.InShape[2]/4
			return concat(convSpec("conv1", c.InShape[0], 32, 5, true), convSpec("conv2", 32, 64, 5, true),
				linearSpec("fc1", 64*h*w, 1024), linearSpec("fc2", 1024, c.Classes))
		},
		forward: func(f *forward, x *G.Node) (*G.Node, error) {
			h := f.tapped("conv1", f.convPoolReLU("conv1", x, 2))
			h = f.tapped("conv2", f.convPoolReLU("conv2", h, 2))
			h = f.tapped("fc1", f.relu(f.linear("fc1", f.flatten(h))))
			return f.linear("fc2", h), f.err
		},
		taps:    []string{"conv1", "conv2", "fc1"},
		accepts: divisibleBy(4),
	},
	// cifar-cnn is a small VGG-style network that trains on CIFAR-10 on a CPU
	// in minutes: three conv-BN-ReLU stages with max pooling, then two dense
	// layers.
	"cifar-cnn": {
		params: func(c Config) []paramSpec {
			h, w := c.InShape[1]/8, c.InShape[2]/8
			return concat(convSpec("conv1", c.InShape[0], 32, 3, false), bnSpec("bn1", 32),
				convSpec("conv2", 32, 64, 3, false), bnSpec("bn2", 64),
				convSpec("conv3", 64, 128, 3, false), bnSpec("bn3", 128),
				linearSpec("fc1", 128*h*w, 256), linearSpec("fc2", 256, c.Classes))
		},
		// Each stage pools before its ReLU: ReLU is monotone, so it
		// commutes with the max of a window (values and derivatives alike,
		// as in convPoolReLU), and then touches a quarter of the elements,
		// forward and backward.
		forward: func(f *forward, x *G.Node) (*G.Node, error) {
			h := f.tapped("block1", f.relu(f.maxPool(f.batchNorm("bn1", f.conv("conv1", x, 1, 1, false)), 2, 2)))
			h = f.tapped("block2", f.relu(f.maxPool(f.batchNorm("bn2", f.conv("conv2", h, 1, 1, false)), 2, 2)))
			h = f.tapped("block3", f.relu(f.maxPool(f.batchNorm("bn3", f.conv("conv3", h, 1, 1, false)), 2, 2)))
			h = f.tapped("fc1", f.relu(f.linear("fc1", f.flatten(h))))
			return f.linear("fc2", h), f.err
		},
		taps:    []string{"block1", "block2", "block3", "fc1"},
		accepts: divisibleBy(8),
	},
	// preact-resnet18 is the pre-activation ResNet-18 of He et al. (2016) in
	// its CIFAR form, the standard network of fast adversarial training.
	"preact-resnet18": {
		params:  preactParams,
		forward: preactForward,
		taps:    []string{"layer1", "layer2", "layer3", "layer4"},
		accepts: divisibleBy(8),
	},
}

const mlpWidth = 256

func divisibleBy(k int) func([]int) error {
	return func(s []int) error {
		if s[1]%k != 0 || s[2]%k != 0 || s[1] < k || s[2] < k {
			return fmt.Errorf("input height and width must be multiples of %d, got %dx%d", k, s[1], s[2])
		}
		return nil
	}
}

func concat(groups ...[]paramSpec) []paramSpec {
	var all []paramSpec
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

func convSpec(name string, in, out, k int, bias bool) []paramSpec {
	s := []paramSpec{{name: name + ".w", shape: []int{out, in, k, k}, init: initUniform, fanIn: in * k * k, decay: true}}
	if bias {
		s = append(s, paramSpec{name: name + ".b", shape: []int{out}, init: initZero})
	}
	return s
}

func linearSpec(name string, in, out int) []paramSpec {
	return []paramSpec{
		{name: name + ".w", shape: []int{in, out}, init: initUniform, fanIn: in, decay: true},
		{name: name + ".b", shape: []int{out}, init: initZero},
	}
}

func bnSpec(name string, c int) []paramSpec {
	return []paramSpec{
		{name: name + ".gamma", shape: []int{c}, init: initOne},
		{name: name + ".beta", shape: []int{c}, init: initZero},
		{name: name + ".running_mean", shape: []int{c}, init: initZero, buffer: true},
		{name: name + ".running_var", shape: []int{c}, init: initOne, buffer: true},
	}
}

// preactStages gives each ResNet-18 stage's width and first stride.
var preactStages = [4]struct{ width, stride int }{{64, 1}, {128, 2}, {256, 2}, {512, 2}}

func preactParams(c Config) []paramSpec {
	specs := convSpec("conv1", c.InShape[0], 64, 3, false)
	in := 64
	for s, st := range preactStages {
		for blk := 0; blk < 2; blk++ {
			name := fmt.Sprintf("layer%d.%d", s+1, blk)
			stride := 1
			if blk == 0 {
				stride = st.stride
			}
			specs = concat(specs, bnSpec(name+".bn1", in), convSpec(name+".conv1", in, st.width, 3, false),
				bnSpec(name+".bn2", st.width), convSpec(name+".conv2", st.width, st.width, 3, false))
			if stride != 1 || in != st.width {
				specs = concat(specs, convSpec(name+".shortcut", in, st.width, 1, false))
			}
			in = st.width
		}
	}
	return concat(specs, bnSpec("bn", 512), linearSpec("fc", 512, c.Classes))
}

func preactForward(f *forward, x *G.Node) (*G.Node, error) {
	h := f.conv("conv1", x, 1, 1, false)
	in := 64
	for s, st := range preactStages {
		for blk := 0; blk < 2; blk++ {
			name := fmt.Sprintf("layer%d.%d", s+1, blk)
			stride := 1
			if blk == 0 {
				stride = st.stride
			}
			out := f.batchNormReLU(name+".bn1", h)
			shortcut := h
			if stride != 1 || in != st.width {
				shortcut = f.conv(name+".shortcut", out, stride, 0, false)
			}
			y := f.conv(name+".conv1", out, stride, 1, false)
			y = f.conv(name+".conv2", f.batchNormReLU(name+".bn2", y), 1, 1, false)
			h = f.add(y, shortcut)
			in = st.width
		}
		h = f.tapped(fmt.Sprintf("layer%d", s+1), h)
	}
	h = f.globalPool(f.batchNormReLU("bn", h))
	return f.linear("fc", h), f.err
}
