// Command sgn-convert converts models between sgn checkpoints and
// safetensors files laid out as the state_dict of the same model in
// PyTorch (pipelines/torch/models.py).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/convert"
)

const synopsis = `sgn-convert -to safetensors|sgn [-arch A] [-o FILE] [FILE]

Reads a model from FILE (default stdin) and writes it to -o (default
stdout) in the other format. -to safetensors takes a checkpoint and writes
its weights (no optimiser state) with the names, shapes and layouts of a
PyTorch state_dict, and the architecture, normalisation, SGN and training
configuration as metadata. -to sgn takes such a file for mlp, madry-mnist,
cifar-cnn or preact-resnet18 and writes a checkpoint; missing, unexpected
or misshapen tensors are refused. -arch names the architecture of a file
whose metadata does not (a bare state_dict): the input shape and classes
then come from the tensors, and the model gets no input normalisation.`

const examples = `  sgn-convert -to safetensors model.sgn > model.safetensors
  sgn-convert -to safetensors -o model.safetensors < model.sgn
  sgn-convert -to sgn torch.safetensors | sgn-attack -pgd -data test.arrows | sgn-score
  sgn-convert -to sgn -arch preact-resnet18 -o resnet.sgn state_dict.safetensors`

func main() { cli.Main("sgn-convert", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-convert", synopsis, examples, stderr)
	to := fs.String("to", "", "output `FORMAT`: safetensors or sgn")
	arch := fs.String("arch", "", "architecture `A` of a safetensors file whose metadata does not name it")
	outPath := fs.String("o", "", "output `FILE` (default stdout)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *to != "safetensors" && *to != "sgn" {
		return cli.Usagef("-to %q: want safetensors or sgn", *to)
	}
	if *arch != "" && *to != "sgn" {
		return cli.Usagef("-arch applies to -to sgn only: a checkpoint names its architecture")
	}
	if fs.NArg() > 1 {
		return cli.Usagef("one input file at most, got %d", fs.NArg())
	}
	in, name := stdin, "stdin"
	if fs.NArg() == 0 {
		if _, err := cli.FromStdin(stdin, "the model", "FILE"); err != nil {
			return err
		}
	}
	if fs.NArg() == 1 {
		name = fs.Arg(0)
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	out, commit, err := cli.CreateOutput(*outPath, stdout)
	if err != nil {
		return err
	}
	defer commit(false)
	var c *classifier.Classifier
	if *to == "safetensors" {
		c, err = convert.WriteSafetensors(in, out)
	} else {
		var note string
		c, note, err = convert.WriteCheckpoint(in, out, *arch)
		if note != "" {
			fmt.Fprintf(stderr, "sgn-convert: %s: %s\n", name, note)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := commit(true); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sgn-convert: %s: %s -> %s\n", name, c.Describe(), *to)
	return nil
}
