# need-torch.sh — sourced by the scripts that run PyTorch (bench.sh,
# crosscheck.sh): sets PY to Debian's python3 and installs Debian's
# python3-torch and OpenBLAS with apt-get when they are missing.
#
# Debian's python3, not the first on PATH: that may be a pyenv one
# without torch. Without an optimised libblas.so.3, Debian's torch runs
# its linear layers on the reference BLAS and is 2-5x slower than it can
# be: OpenBLAS is what any PyTorch user on this machine would have.
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
	echo "$(basename "$0"): installing Debian's python3-torch and OpenBLAS" >&2
	SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
	$SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread >&2
fi
