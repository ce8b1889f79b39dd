# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
export INFOCAM_ROOT ?= $(CURDIR)
# the byte-code cache must be written: the venv is installed --no-compile (below), so with
# PYTHONDONTWRITEBYTECODE set (some images set it) every process would compile torch, Lightning and
# Hydra from source again (measured here: `import lightning, torch, hydra` 14.5 s uncached, 6.4 s cached)
unexport PYTHONDONTWRITEBYTECODE

.PHONY: venv demo test test-fast reproduce-mi bench bench-mi clean mnist-digits reproduce-mnist bench-mnist demo-wsol bench-wsol \
	demo-infomask mnist-fonts cub-digits docker-build docker-train docker-smoke docker-lint docker-wandb-sync wandb-sync

venv: $(STAMP)

# (re)install when pyproject.toml or constraints.txt change. --no-compile: pip would byte-compile all
# ~15,600 .py files of the 6 GB set (torch, CUDA wheels) up front; Python compiles only what is
# imported, on first import (measured: a fresh install 1 min 15 s instead of 3 min 44 s, same load)
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# quick Table 2 (all 24 cells on half of the data, at most 15 epochs), both priors at once: about 2.5 minutes on 2 CPU cores
demo: $(STAMP)
	rm -rf logs/demo/mi_table2
	$(MAKE) --no-print-directory -j2 --output-sync=line MI_DIR=logs/demo/mi_table2 \
		MI_ARGS="data.size_scale=0.5 data.mc_samples=200000 trainer.max_epochs=15" mi-table2-balanced mi-table2-unbalanced
	$(BIN)/infocam-report kind=mi_table2 sweep_dir=logs/demo/mi_table2 out_dir=reports/demo
	@cat reports/demo/mi_table2.md

# test files are shared out over TEST_WORKERS processes (pytest-xdist; a file's tests stay in one
# worker so its module fixtures are built once); TEST_WORKERS=0 runs them in this process
TEST_WORKERS ?= 2

test: $(STAMP) docs-check
	WANDB_MODE=disabled $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	WANDB_MODE=disabled $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"

# ---- docs (mkdocs.yml, docs/; docs/contributing.md) ------------------------------------------------
# strict: a broken link, a page missing from the nav or an unresolved API reference fails the build
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
.PHONY: docs docs-check docs-serve docs-figures
docs: $(STAMP)
	$(MKDOCS) build --strict -d site

# what make test runs: the same strict build into a throw-away folder, quiet unless it fails
# (not mkdocs -q: below its warning level, strict mode no longer counts warnings)
docs-check: $(STAMP)
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && $(MKDOCS) build --strict -d "$$d" > "$$d.log" 2>&1 \
		|| { cat "$$d.log"; rm -f "$$d.log"; exit 1; }; rm -f "$$d.log"

docs-serve: $(STAMP)
	$(MKDOCS) serve

# the pictures the pages show, from small real runs on the embedded data -> docs/figures/*.png
# (a few minutes on 2 CPU cores; ARGS="--only wsol_overlays" for one figure)
docs-figures: $(STAMP)
	$(BIN)/python docs/_tools/figures.py $(ARGS)

# the full paper Table 2 grid (24 runs) -> reports/mi_table2.{csv,md,png}
reproduce-mi: $(STAMP)
	rm -rf logs/reproduce/mi_table2
	$(MAKE) --no-print-directory -j2 --output-sync=line MI_DIR=logs/reproduce/mi_table2 mi-table2-balanced mi-table2-unbalanced
	$(BIN)/infocam-report kind=mi_table2 sweep_dir=logs/reproduce/mi_table2 out_dir=reports

# one prior's half of conf/sweep/mi_table2.yaml (12 cells) into $(MI_DIR)/PRIOR; demo and
# reproduce-mi run both halves at once, one torch thread each: the 256-wide MLP's small matmuls
# gain little from a second thread, and a second cell gains a whole core (the report reads every
# run below MI_DIR). With two threads per process on two cores, the halves would oversubscribe.
MI_DIR ?= logs/reproduce/mi_table2
MI_ARGS ?=
# Each line is prefixed with its prior (the halves' [k/12] lines interleave); pipefail keeps the exit status.
mi-table2-%: SHELL := /bin/bash
mi-table2-%: .SHELLFLAGS := -o pipefail -c
mi-table2-%: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/infocam-train experiment=mi_gmm sweep=mi_table2 data.balance=$* $(MI_ARGS) \
		hydra.sweep.dir=$(MI_DIR)/$* 2>&1 | sed -u 's/^/$* | /'

# every benchmark, one process each, -> reports/benchmarks.md: each figure beside the baseline
# measured in the same run, the ratio, the machine, the load and the command (run it alone:
# timings on a shared machine swing). ARGS=--quick: tiny sizes, checks the plumbing only
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

# Table 2's settings through the framework vs a plain PyTorch loop
bench-mi: $(STAMP)
	$(BIN)/python benchmarks/bench_mi.py

# MI zoo, a representative subset (docs/mi-zoo.md; designed for <= 20 min on 2 CPU cores):
# 4 vector tasks at d=10 x n in {2k, 10k}, the 5-d mixture padded to 20/50 noisy dims, the 16x16
# label-noise bars; 7 estimators; ZOO_SEEDS data seeds -> reports/mi_zoo.{csv,md,png}
# (a diverged cell fails its multirun, not the target: the report counts it under `failed`)
ZOO_SEEDS ?= 0,1,2
ZOO_LOSSES ?= softmax,pc_softmax,mine,nwj,infonce_batch,smile,knn
.PHONY: reproduce-mi-zoo
reproduce-mi-zoo: $(STAMP)
	rm -rf logs/reproduce/mi_zoo
	-$(BIN)/infocam-train experiment=mi_gmm sweep=mi_zoo data.family=gaussian data.transform=null,cube,coupling \
		data.dim=10 data.n=2000,10000 loss=$(ZOO_LOSSES) data.seed=$(ZOO_SEEDS) trainer.max_epochs=20 \
		hydra.sweep.dir=logs/reproduce/mi_zoo/gaussian
	-$(BIN)/infocam-train experiment=mi_gmm sweep=mi_zoo data.family=student_t data.transform=null \
		data.dim=10 data.n=2000,10000 loss=$(ZOO_LOSSES) data.seed=$(ZOO_SEEDS) trainer.max_epochs=20 \
		hydra.sweep.dir=logs/reproduce/mi_zoo/student_t
	-$(BIN)/infocam-train experiment=mi_gmm sweep=mi_zoo_noise_dims data.dim=20,50 data.n=10000 \
		loss=$(ZOO_LOSSES) data.seed=$(ZOO_SEEDS) trainer.max_epochs=20 hydra.sweep.dir=logs/reproduce/mi_zoo/noise_dims
	-$(BIN)/infocam-train experiment=mi_bars sweep=mi_zoo_images data.eps=0.1 data.n=6000 \
		loss=softmax,pc_softmax,knn data.seed=$(ZOO_SEEDS) trainer.max_epochs=15 hydra.sweep.dir=logs/reproduce/mi_zoo/images
	$(BIN)/infocam-report kind=mi_zoo sweep_dir=logs/reproduce/mi_zoo out_dir=reports

# Table 3 (MNIST): {softmax, pc_softmax} x {balanced, unbalanced} x 5 seeds -> reports/classification_mnist.{csv,md}
# DATA holds MNIST/raw/*-ubyte[.gz]; ARGS adds overrides (e.g. ARGS=trainer.max_epochs=3)
reproduce-mnist: $(STAMP)
	@test -n "$(DATA)" || { echo "usage: make reproduce-mnist DATA=DIR  (DIR/MNIST/raw/train-images-idx3-ubyte[.gz], ...)"; exit 2; }
	rm -rf logs/reproduce/mnist_table3
	$(BIN)/infocam-train experiment=mnist sweep=mnist_table3 data.root=$(abspath $(DATA)) \
		hydra.sweep.dir=logs/reproduce/mnist_table3 $(ARGS)
	$(BIN)/infocam-report kind=classification sweep_dir=logs/reproduce/mnist_table3 out_dir=reports

# MNIST-format IDX files built from scikit-learn's bundled 8x8 digits (offline stand-in for MNIST)
mnist-digits: $(STAMP)
	$(BIN)/python -m infocam.data.standins.digits data/digits

# one epoch of the MNIST CNN: framework vs a plain PyTorch loop (prints the ratio)
bench-mnist: $(STAMP)
	$(BIN)/python benchmarks/bench_classification.py

# WSOL on synthetic shapes (no download): train gap_cnn, evaluate CAM/infoCAM/infoCAM+ x R=1,3,5,
# one table -> reports/demo/wsol_eval.{csv,md}; overlays in each run's overlays/ folder
WSOL_DEMO := logs/demo/wsol
demo-wsol: $(STAMP)
	rm -rf $(WSOL_DEMO)
	$(BIN)/infocam-train experiment=wsol_synthetic callbacks=quiet trainer.enable_progress_bar=false \
		hydra.run.dir=$(WSOL_DEMO)/train
	$(BIN)/infocam-eval sweep=wsol_cams data=synthetic_loc \
		ckpt_path=$$(ls $(WSOL_DEMO)/train/checkpoints/epoch_*.ckpt | head -n 1) hydra.sweep.dir=$(WSOL_DEMO)/evals
	$(BIN)/infocam-report kind=wsol sweep_dir=$(WSOL_DEMO)/evals out_dir=reports/demo
	@cat reports/demo/wsol_eval.md
	@echo "overlays: $(WSOL_DEMO)/evals/*/overlays/wsol_overlays.png"

# a CUB-200-2011-layout stand-in (2,000 real digits on cluttered canvases, 10 classes) for experiment=wsol_cub_small
cub-digits: $(STAMP)
	$(BIN)/python -m infocam.data.standins.cub_layout data/cub_digits

# batched map->box->IoU vs a per-image scipy loop, and wsolevaluation's protocol vs its per-image
# OpenCV loop (1,000 maps, 0.01 and 0.001 intervals): equality checks and speed ratios
bench-wsol: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,bench]"
	$(BIN)/python benchmarks/bench_localization.py
	$(BIN)/python benchmarks/bench_wsoleval.py

# the paper's WSOL recipes (wsol_cub_resnet50, wsol_cub_vgg16) on one GPU: 50 steps each at 224 px,
# batch 32, 16-mixed -> images/s, peak memory; the box step's torch backend on CUDA vs numba on the
# same maps -> reports/bench_gpu.json. ARGS=--cpu-smoke checks the path on a CPU (tiny sizes)
.PHONY: bench-gpu
bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/bench_gpu.py $(ARGS)

# CAM latency table: CAM/infoCAM/infoCAM+/Grad-CAM vs the grad-cam package's GradCAM, GradCAM++ and ScoreCAM
# and a bare forward pass; resnet18/50 at 224 px, batch 1 and 32, CPU (+ CUDA) -> reports/bench_cams.md.
# ARGS=--quick: resnet18, batch 1 and 4 (smoke run); ARGS=--clock cpu on a shared machine
.PHONY: bench-cams
bench-cams: $(STAMP)
	$(BIN)/python benchmarks/bench_cams.py $(ARGS)

# MNIST-format IDX files of thin-stroke digits rendered from matplotlib's fonts, distorted (offline stand-in)
mnist-fonts: $(STAMP)
	$(BIN)/python -m infocam.data.standins.font_digits data/font_digits

# info-masking (paper 2, §4) on composites of the font-digits stand-in: train, score info-mask / CAM /
# random masks by surviving ink -> reports/demo/infomask.{csv,md}; picture grid in the run's infomask/
INFOMASK_DEMO := logs/demo/infomask
demo-infomask: $(STAMP)
	test -f data/font_digits/MNIST/raw/train-images-idx3-ubyte.gz || $(BIN)/python -m infocam.data.standins.font_digits data/font_digits
	rm -rf $(INFOMASK_DEMO)
	$(BIN)/infocam-train experiment=infomask_mnist data.root=$(abspath data/font_digits) data.target_digit=0 \
		callbacks=quiet trainer.enable_progress_bar=false hydra.run.dir=$(INFOMASK_DEMO)
	$(BIN)/infocam-report kind=infomask sweep_dir=$(INFOMASK_DEMO) out_dir=reports/demo
	@cat reports/demo/infomask.md
	@echo "picture grid: $(INFOMASK_DEMO)/infomask/infomask_grid.png"
# ---- docker (docker/Dockerfile, docker/compose.yaml) -------------------------------------------
IMAGE ?= infocam:latest
COMPOSE := docker compose -f docker/compose.yaml
# the container runs as your uid (non-root: root gets the image's own user), so ./outputs stays yours
DOCKER_IDS := INFOCAM_IMAGE=$(IMAGE) INFOCAM_UID=$$(u=$$(id -u); [ $$u -eq 0 ] && echo 10001 || echo $$u) \
	INFOCAM_GID=$$(g=$$(id -g); [ $$g -eq 0 ] && echo 10001 || echo $$g)
DOCKER_DIRS := mkdir -p data outputs weights && { [ $$(id -u) -ne 0 ] || chown 10001:10001 outputs; }

docker-build:
	docker build -f docker/Dockerfile -t $(IMAGE) .

# any experiment with DDP on 2 GPUs: make docker-train ARGS="experiment=wsol_synthetic"
docker-train:
	@test -n "$(ARGS)" || { echo 'usage: make docker-train ARGS="experiment=NAME [overrides]"'; exit 2; }
	$(DOCKER_DIRS)
	$(DOCKER_IDS) $(COMPOSE) run --rm train trainer=ddp $(ARGS)

# a CPU smoke run in the container (one batch of each split, metrics.json under ./outputs/runs/)
docker-smoke:
	$(DOCKER_DIRS)
	$(DOCKER_IDS) $(COMPOSE) run --rm cpu

# upload the offline wandb runs the containers wrote (WANDB_API_KEY=... make docker-wandb-sync)
docker-wandb-sync:
	$(DOCKER_IDS) $(COMPOSE) run --rm cpu wandb-sync

docker-lint: $(STAMP)
	$(BIN)/hadolint docker/Dockerfile

# upload every offline wandb run under logs/ and outputs/ (wandb login or WANDB_API_KEY first)
wandb-sync: $(STAMP)
	find logs outputs -type d -name 'offline-run-*' -path '*/wandb/*' 2>/dev/null | xargs -r $(BIN)/wandb sync

clean:
	rm -rf logs outputs multirun .pytest_cache

# estimate_mi on the paper's 60,000 x 10 mixture: wall time and error vs the Monte-Carlo truth
# (issue 18 target: <= 20 s on 2 cores, <= 0.02 nats); ARGS=--all for the 8 Table 2 settings
.PHONY: bench-api
bench-api: $(STAMP)
	$(BIN)/python benchmarks/bench_api.py $(ARGS)

# ---- from zero to the paper's tables on a GPU machine (docs/from-zero-on-a-gpu.md) -----------
# DATA: where the datasets go (fetched, checked, unpacked: infocam-data); every DDP training run
# is checked by infocam-doctor first and skipped when its run directory already has metrics.json,
# so an interrupted target resumes where it stopped (the short MNIST grid and the evaluation
# sweeps rerun). Estimates: make paper-estimate.
DATA ?= data
PAPER_LOGS ?= logs/paper
PAPER_REPORTS ?= reports/paper
PAPER_SEEDS ?= 1 2 3 4 5
DATA_ROOT = $(abspath $(DATA))

.PHONY: paper-data
paper-data: $(STAMP)
	$(BIN)/infocam-data dataset=mnist root=$(DATA_ROOT)
	$(BIN)/infocam-data dataset=cub root=$(DATA_ROOT)
	$(BIN)/infocam-data dataset=tiny_imagenet root=$(DATA_ROOT)

# Table 2 (MI of Gaussian mixtures): small MLPs on vectors, CPU is the right device (~3 min on 2 cores)
.PHONY: paper-table2
paper-table2: reproduce-mi
	@cat reports/mi_table2.md

# Table 3: MNIST (one GPU per cell, serial multirun) and CUB (Inception-V3 from timm's ImageNet
# weights, DDP on 2 GPUs, one run per cell): {softmax, pc_softmax} x {balanced, unbalanced} x PAPER_SEEDS
.PHONY: paper-table3
paper-table3: $(STAMP)
	$(BIN)/infocam-train experiment=mnist sweep=mnist_table3 data.root=$(DATA_ROOT) data.download=true trainer=gpu \
		run.overwrite=true hydra.sweep.dir=$(PAPER_LOGS)/table3/mnist
	set -e; for loss in softmax pc_softmax; do for balance in balanced unbalanced; do for seed in $(PAPER_SEEDS); do \
		dir=$(PAPER_LOGS)/table3/cub/$${loss}_$${balance}_s$${seed}; test -f $$dir/metrics.json && continue; \
		args="experiment=cub_inception_ddp data.root=$(DATA_ROOT) data.download=true model.weights=imagenet \
			loss=$$loss data.balance=$$balance seed=$$seed hydra.run.dir=$$dir"; \
		$(BIN)/infocam-doctor $$args; $(BIN)/infocam-train $$args; done; done; done
	$(BIN)/infocam-report kind=classification sweep_dir=$(PAPER_LOGS)/table3/mnist out_dir=$(PAPER_REPORTS)/table3_mnist
	$(BIN)/infocam-report kind=classification sweep_dir=$(PAPER_LOGS)/table3/cub out_dir=$(PAPER_REPORTS)/table3_cub
	@cat $(PAPER_REPORTS)/table3_mnist/*.md $(PAPER_REPORTS)/table3_cub/*.md

# Tables 4-6 come from one grid: {CUB, Tiny-ImageNet} x {VGG16-GAP, ResNet50} x ADL on/off, each
# fine-tuned from torchvision's ImageNet weights with DDP on 2 GPUs (the paper recipes), then every
# checkpoint scored by its wsol_tables_* sweep (CAM/infoCAM/infoCAM+ x R x alignment) on one GPU
.PHONY: paper-wsol
paper-wsol: $(STAMP)
	set -e; for run in cub_vgg16 cub_resnet50 tiny_vgg16 tiny_resnet50; do for adl in true false; do \
		dir=$(PAPER_LOGS)/wsol/train/$${run}_adl_$$adl; test -f $$dir/metrics.json && continue; \
		args="experiment=wsol_$$run data.root=$(DATA_ROOT) data.download=true model.adl.enabled=$$adl hydra.run.dir=$$dir"; \
		$(BIN)/infocam-doctor $$args; $(BIN)/infocam-train $$args; done; done
	set -e; for run in cub_vgg16 cub_resnet50 tiny_vgg16 tiny_resnet50; do for adl in true false; do \
		out=$(PAPER_LOGS)/wsol/eval/$${run}_adl_$$adl; \
		ckpt=$$(ls $(PAPER_LOGS)/wsol/train/$${run}_adl_$$adl/checkpoints/epoch_*.ckpt | head -n 1); \
		case $$run in cub_vgg16) data="data=cub data.image_size=224" sweep=wsol_tables_cub_vgg16 ;; \
			cub_resnet50) data="data=cub data.image_size=224" sweep=wsol_tables_cub_resnet50 ;; \
			*) data="data=tiny_imagenet" sweep=wsol_tables_tiny ;; esac; \
		$(BIN)/infocam-eval ckpt_path=$$ckpt $$data data.root=$(DATA_ROOT) trainer=gpu sweep=$$sweep \
			run.overwrite=true hydra.sweep.dir=$$out; done; done
	$(BIN)/infocam-report kind=wsol sweep_dir=$(PAPER_LOGS)/wsol/eval out_dir=$(PAPER_REPORTS)/wsol

# each prints the one report that holds Tables 4 (GT-known / Top-1 Loc), 5 (classification) and
# 6 (the R x subtraction ablation) beside the paper's numbers
.PHONY: paper-table4 paper-table5 paper-table6
paper-table4 paper-table5 paper-table6: paper-wsol
	@cat $(PAPER_REPORTS)/wsol/wsol_eval.md

# lower-bound hours per table from reports/bench_gpu.json (run make bench-gpu first)
.PHONY: paper-estimate
paper-estimate: $(STAMP)
	$(BIN)/python benchmarks/paper_estimate.py $(ARGS)
