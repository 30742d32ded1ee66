package dataset

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// PixelScale maps the stored pixel bytes to [0, 1].
const PixelScale = 1.0 / 255

// Format says how a dataset's official files are laid out.
type Format int

const (
	// FormatIDX is LeCun's IDX format, gzip'd: one file of images and one
	// of labels per split (MNIST, Fashion-MNIST).
	FormatIDX Format = iota
	// FormatCIFAR10 is the CIFAR-10 binary version: one tar.gz archive
	// whose members hold records of a label byte and 3072 pixel bytes.
	FormatCIFAR10
)

// File is one official file as distributed.
type File struct {
	Name   string // file name, also the last element of its URL
	Size   int64  // bytes
	SHA256 string // of the file as distributed, lower-case hex
	// ContentSHA256 is the SHA-256 of the decompressed content, or "". It
	// lets a copy whose gzip header was rewritten be accepted: Debian's
	// dataset-fashion-mnist strips the file name and time from the gzip
	// header (strip-nondeterminism) but keeps the compressed data.
	ContentSHA256 string
}

// Split names the files holding one split of a dataset.
type Split struct {
	// Files names the official files the split reads: for FormatIDX the
	// images then the labels, for FormatCIFAR10 the archive.
	Files []string
	// Members lists, for FormatCIFAR10, the archive members holding the
	// split's records, in order.
	Members []string
}

// Spec describes a dataset: its official files, where they are published
// and what they hold.
type Spec struct {
	Name    string
	Format  Format
	Shape   []int    // of one example: C, H, W
	Classes []string // label i names Classes[i]
	// URLs are the base URLs tried in order (official first, then
	// mirrors); a file's URL is a base followed by the file's name.
	URLs   []string
	Files  []File
	Splits map[string]Split
}

// ErrUnknown is wrapped by errors about a dataset or split that does not exist.
var ErrUnknown = errors.New("unknown")

// file returns the File called name.
func (s *Spec) file(name string) (File, error) {
	for _, f := range s.Files {
		if f.Name == name {
			return f, nil
		}
	}
	return File{}, fmt.Errorf("dataset %s: split refers to file %s, which it does not list", s.Name, name)
}

// splitNames lists the spec's splits, sorted, for error messages.
func (s *Spec) splitNames() string {
	names := make([]string, 0, len(s.Splits))
	for n := range s.Splits {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Names lists the datasets of specs.
func Names(specs []Spec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// Specs returns the built-in datasets: mnist, fashion-mnist and cifar10.
// Each call returns a fresh table that the caller may change.
func Specs() []Spec {
	digits := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	idxSplits := map[string]Split{
		"train": {Files: []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}},
		"test":  {Files: []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}},
	}
	copySplits := func(m map[string]Split) map[string]Split {
		out := make(map[string]Split, len(m))
		for k, v := range m {
			out[k] = Split{Files: append([]string(nil), v.Files...), Members: append([]string(nil), v.Members...)}
		}
		return out
	}
	return []Spec{
		{
			Name:    "mnist",
			Format:  FormatIDX,
			Shape:   []int{1, 28, 28},
			Classes: digits,
			// The original host often refuses downloads (403); torchvision
			// and TensorFlow Datasets rely on the two mirrors.
			URLs: []string{
				"http://yann.lecun.com/exdb/mnist/",
				"https://ossci-datasets.s3.amazonaws.com/mnist/",
				"https://storage.googleapis.com/cvdf-datasets/mnist/",
			},
			// SHA-256s computed from the files in the GoMNIST module; they
			// equal tensorflow/datasets url_checksums/mnist.txt, and the
			// files' MD5s equal torchvision's MNIST.resources.
			Files: []File{
				{"train-images-idx3-ubyte.gz", 9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
				{"train-labels-idx1-ubyte.gz", 28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
				{"t10k-images-idx3-ubyte.gz", 1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
				{"t10k-labels-idx1-ubyte.gz", 4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
			},
			Splits: copySplits(idxSplits),
		},
		{
			Name:    "fashion-mnist",
			Format:  FormatIDX,
			Shape:   []int{1, 28, 28},
			Classes: []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
			URLs:    []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
			// SHA-256s and sizes from tensorflow/datasets
			// url_checksums/fashion_mnist.txt. Debian's copies differ only
			// in the gzip header: restoring the file name and the original
			// time (2017-08-31) gives back these sums and the MD5s of the
			// Fashion-MNIST README. The content sums are of the
			// decompressed files.
			Files: []File{
				{"train-images-idx3-ubyte.gz", 26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
				{"train-labels-idx1-ubyte.gz", 29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
				{"t10k-images-idx3-ubyte.gz", 4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
				{"t10k-labels-idx1-ubyte.gz", 5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
			},
			Splits: copySplits(idxSplits),
		},
		{
			Name:    "cifar10",
			Format:  FormatCIFAR10,
			Shape:   []int{3, 32, 32},
			Classes: []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"},
			URLs:    []string{"https://www.cs.toronto.edu/~kriz/"},
			// SHA-256 and size from tensorflow/datasets
			// url_checksums/cifar10.txt (no copy could be had to check it).
			Files: []File{
				{"cifar-10-binary.tar.gz", 170052171, "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", ""},
			},
			Splits: map[string]Split{
				"train": {
					Files: []string{"cifar-10-binary.tar.gz"},
					Members: []string{
						"cifar-10-batches-bin/data_batch_1.bin",
						"cifar-10-batches-bin/data_batch_2.bin",
						"cifar-10-batches-bin/data_batch_3.bin",
						"cifar-10-batches-bin/data_batch_4.bin",
						"cifar-10-batches-bin/data_batch_5.bin",
					},
				},
				"test": {
					Files:   []string{"cifar-10-binary.tar.gz"},
					Members: []string{"cifar-10-batches-bin/test_batch.bin"},
				},
			},
		},
	}
}
