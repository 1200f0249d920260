# Two entry points: `make demo` (set up, then the whole pipeline on built-in
# Ms. Pac-Man data) and `make test` (set up, then the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

# The demo: small enough for 2 CPU cores in about 10 minutes.
DEMO_OUT ?= result/demo
DEMO_ITERS ?= 1000
DEMO_CLIPS ?= 20000

.PHONY: setup setup-gpu setup-mpi gpu-check demo test frames clips clean-demo

setup: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools<74" wheel
	$(PY) -m pip install -q --no-build-isolation -r requirements.txt
	touch $@

# CuPy for the CUDA major version the driver reports (nvidia-smi), 12 where none
# does; CUDA=12x or CUDA=13x picks one.
CUDA ?= $(or $(shell nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1x/p' \
	| head -n 1),12x)
setup-gpu: setup
	$(PY) -m pip install -q "cupy-cuda$(CUDA)>=13"

# What a GPU machine should confirm (benchmarks/gpu_check.sh): the GPU tests; the paper
# preset trained, resumed and tested on GPU 0 in float32 and mixed16; speed beside PyTorch
# (TORCH_PY=a Python with PyTorch). Logs in result/gpu-check.
gpu-check: setup
	PY=$(PY) benchmarks/gpu_check.sh result/gpu-check

# MPI and ChainerMN's Python side, for data-parallel training.
MPI_STAMP := $(VENV)/.installed-mpi-$(shell cat requirements-mpi.txt | cksum | cut -d' ' -f1)
setup-mpi: $(MPI_STAMP)
$(MPI_STAMP): requirements-mpi.txt | $(STAMP)
	$(PY) -m pip install -q -r requirements-mpi.txt
	touch $@

# The tests cover data-parallel training too, so they install the MPI extras.
test: setup setup-mpi
	$(PY) -m pytest -q tests

data/images/train:
	$(PY) -m utils.data.pacman

data/trainclips/clips.json: | data/images/train
	$(PY) process_data.py -n $(DEMO_CLIPS)

frames: data/images/train
clips: data/trainclips/clips.json

# Training briefly shows that training works; the shipped generators show what
# training longer gives (pretrained/README.md).
demo: setup clips
	$(PY) train.py --preset tiny -i $(DEMO_ITERS) -o $(DEMO_OUT) --lr-g 0.001 \
		--snapshot-interval 250 --sample-interval 250 --eval-interval 250 --overwrite
	$(PY) test.py -m $(DEMO_OUT)/TRAINED_ADVERSARIAL.model -o $(DEMO_OUT)/test \
		--max-windows 24 --gifs 3
	$(PY) benchmarks/quality.py --pretrained --variants l2 adv_gdl -o $(DEMO_OUT)/pretrained \
		-s 4 --max-windows 24 --gifs 3 > /dev/null
	@cat $(DEMO_OUT)/pretrained/table.md
	@echo "demo done: the brief run's GIFs and metrics in $(DEMO_OUT)/test, its training curves in $(DEMO_OUT);"
	@echo "the shipped generators against copying the last frame in $(DEMO_OUT)/pretrained (table.md, curves.png, sprites.png, compare_<i>.gif: truth | L2 | Adv+GDL | copy last)"

clean-demo:
	rm -rf $(DEMO_OUT)
