// Package clitest is the harness of the sgn tools' end-to-end tests: it
// runs a tool as a user would and checks what the tool says.
//
// A tool's test binary stands in for the tool itself (Tools.Main runs the
// tool's main when RunAsEnv asks it to), and the other tools that make its
// inputs are built once into a temporary directory. Tools.Run runs a tool
// with some input and returns its exit code and output; AssertOneLineError
// and AssertHelp check the conventions of package cli; a Fixture makes
// files, such as MNIST examples and small trained models, once for all the
// tests of a binary.
//
// A tool's tests use it as
//
//	var tools = clitest.New("sgn-grad", "sgn-fetch", "sgn-train")
//
//	func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }
package clitest
