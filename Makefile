# Two commands on a fresh machine:  `make sample`  (stylise the bundled sample)  and  `make test`.
# Both create .venv and install stylevid into it on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/sample

# Offline weights shared beside the checkout (tests, CI, demos). Users without them get
# torchvision's VGG19 weights, downloaded on first use.
SHARED_WEIGHTS := $(abspath ../shared/weights/vgg19-caffe-conv-fp16.pth)
ifneq ($(wildcard $(SHARED_WEIGHTS)),)
export STYLEVID_WEIGHTS ?= $(SHARED_WEIGHTS)
export STYLEVID_WEIGHTS_FORMAT ?= caffe
endif

.PHONY: sample video test lint install clean

$(BIN)/stylevid: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	touch $@

install: $(BIN)/stylevid

# Tübingen × The Starry Night: 1–2 minutes on a 2-core CPU; on a GPU drop --size/--iters for 512 px, 500 iterations.
sample: $(BIN)/stylevid
	$(BIN)/stylevid samples/tuebingen.jpg --style samples/starry_night.jpg --size 256 --iters 150 -o $(OUT)

# The sample clip, first 2 seconds at 192 px (a few minutes on a CPU).
video: $(BIN)/stylevid
	$(BIN)/stylevid samples/cockatoo.mp4 --style samples/starry_night.jpg --size 192 --end 2s --iters 100 --frame-iters 40 -o out/cockatoo

test: $(BIN)/stylevid
	$(BIN)/python -m pytest -q

# ruff (lint + format) and mypy; mypy sees the folders under their installed names through links in build/mypy
lint: $(BIN)/stylevid
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf build/mypy && mkdir -p build/mypy/stylevid
	ln -s ../../../pipeline build/mypy/stylevid/pipeline && ln -s ../../../cli build/mypy/stylevid/cli
	cd build/mypy && ../../$(BIN)/mypy --config-file ../../pyproject.toml --cache-dir ../../.mypy_cache -p stylevid.pipeline -p stylevid.cli

clean:
	rm -rf $(VENV) out stylevid-out build
