# hlsbox: every target is a thin call of the `hlsbox` CLI (installed into .venv from tools/).
# Variables: FLOW, PART, TIMEOUT, MEM, CPUS (steps); CA_BUNDLE, INDEX_URL (image build); CIFAR10.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT    := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON  ?= python3
VENV    ?= $(ROOT)/.venv
HLSBOX  := $(VENV)/bin/hlsbox
FLOW    ?= flows/digits.toml
PART    ?=
TIMEOUT ?=
MEM     ?=
CPUS    ?=
VIVADO  ?=
# pip in the image build needs the CA of a TLS-intercepting proxy; default: what the host's pip uses.
CA_BUNDLE ?= $(PIP_CERT)
INDEX_URL ?=
CIFAR10 ?=
# The toolchain image `make image` and `make lock` act on: keras2 (docker/, the default), keras3, qonnx (docker/<name>/)
TOOLCHAIN ?= keras2
LOCKDIR = docker$(if $(filter-out keras2,$(TOOLCHAIN)),/$(TOOLCHAIN))

FORCE   ?=
HANG_AFTER ?=
IGNORE_PLAN ?=
AGREEMENT ?=
BUDGET  ?=
STEP_ARGS = --flow $(FLOW) $(if $(PART),--part $(PART)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
            $(if $(MEM),--mem $(MEM)) $(if $(CPUS),--cpus $(CPUS)) $(if $(FORCE),--force) \
            $(if $(HANG_AFTER),--hang-after $(HANG_AFTER))
MODELS = models/digits_cnn.keras models/model_2_15.keras models/jet_tagger_qkeras.h5
# The models of the other toolchains: made (with their toolchain's image) only when a flow or a test needs them.
TOOLCHAIN_MODELS = models/digits_resnet_keras3.keras models/digits_sequential_keras3.keras models/digits_qonnx_w4a4.onnx \
                   models/digits_mlp_hgq2.keras
BUILD_ARGS = $(if $(CA_BUNDLE),--ca-bundle $(CA_BUNDLE)) $(if $(INDEX_URL),--index-url $(INDEX_URL))
# FLOW's model (a TOML flow's `model = "..."` line), when a rule below makes it: the only model a step of FLOW makes.
FLOW_MODEL = $(filter $(MODELS) $(TOOLCHAIN_MODELS) models/conv1d_bn.keras,\
  $(shell sed -n 's/^model *= *"\([^"]*\)".*/\1/p' $(FLOW) 2>/dev/null))

.PHONY: help setup image flow-image toolchain-images models convert csim plan csynth cosim export vsynth rtl synth rtlsim sweep demo test test-unit lint bench clean lock doctor estimator-data fit test-podman

help: ## list the targets and variables
	@grep -hE '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo; echo "  Variables: FLOW=$(FLOW) PART=$(PART) TIMEOUT=$(TIMEOUT) MEM=$(MEM) CPUS=$(CPUS) VIVADO=$(VIVADO) FORCE=$(FORCE)"
	@echo "             TOOLCHAIN=$(TOOLCHAIN) CA_BUNDLE=$(CA_BUNDLE) INDEX_URL=$(INDEX_URL) CIFAR10=$(CIFAR10)"

setup: $(VENV)/.installed ## install the hlsbox CLI into .venv (host side: typer, rich, docker SDK, pydantic)
$(VENV)/.installed: $(ROOT)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '$(ROOT)[dev]'
	touch $@

image: setup ## build the pinned image of TOOLCHAIN (base image first if missing); a no-op when docker/ is unchanged
	$(HLSBOX) image build --toolchain $(TOOLCHAIN) $(BUILD_ARGS)

flow-image: setup $(FLOW_MODEL) ## the image of FLOW's toolchain (its model picks it; any model), built when first needed
	$(HLSBOX) image build --flow $(FLOW) $(BUILD_ARGS)

models: $(MODELS) ## make the models with their scripts in models/ (CIFAR10=<dir> to train on CIFAR-10)
# A model file make did not write (no <file>.made-by-make beside it) is the user's own, e.g. the seed author's
# models/model_2_15.keras: kept as it is, never overwritten. Delete it to have make write it from its script.
define make_model
	@if [ -e $@ ] && [ ! -e $@.made-by-make ]; then \
	  echo "$@ kept: make did not write it (your own model); delete it to make it with $<"; \
	else $(HLSBOX) model $< --out $@ $(1) && touch $@.made-by-make; fi
endef
models/digits_cnn.keras: models/digits_cnn.py | image
	$(call make_model)
models/jet_tagger_qkeras.h5: models/jet_tagger_qkeras.py | image
	$(call make_model)
models/conv1d_bn.keras: models/conv1d_bn.py | image
	$(call make_model)
models/model_2_15.keras: models/mini_resnet.py | image
	$(call make_model,$(if $(CIFAR10),-- --cifar10 $(CIFAR10)))
# A model of another toolchain's image: that image first (a no-op when built), then the script in it.
define toolchain_model
	$(HLSBOX) image build --toolchain $(1) $(BUILD_ARGS)
	$(HLSBOX) model $< --toolchain $(1) --out $@
endef
models/digits_resnet_keras3.keras: models/digits_resnet_keras3.py | setup
	$(call toolchain_model,keras3)
models/digits_sequential_keras3.keras: models/digits_sequential_keras3.py | setup
	$(call toolchain_model,keras3)
models/digits_mlp_hgq2.keras: models/digits_mlp_hgq2.py | setup
	$(call toolchain_model,keras3)
models/digits_qonnx_w4a4.onnx: models/digits_qonnx_w4a4.py | setup
	$(call toolchain_model,qonnx)

convert: flow-image ## FLOW -> hls4ml project (+ model plot), in the container
	$(HLSBOX) convert $(STEP_ARGS)

csim: flow-image ## C simulation of FLOW, compared with Keras (+ every layer traced)
	$(HLSBOX) csim $(STEP_ARGS)

plan: flow-image ## fit verdict for FLOW on PART in seconds, with ways out
	$(HLSBOX) plan --flow $(FLOW) $(if $(PART),--part $(PART)) $(if $(MEM),--mem $(MEM))

csynth cosim export vsynth: flow-image ## Vivado HLS steps with the host's Vivado (VIVADO=/opt/Xilinx/Vivado/<ver>)
	$(HLSBOX) $@ $(STEP_ARGS) $(if $(VIVADO),--vivado $(VIVADO)) $(if $(IGNORE_PLAN),--ignore-plan)

rtl synth rtlsim: flow-image ## backend = "da4ml" flows (flows/digits_mlp_da4ml.toml): Verilog, yosys cells, Verilator
	$(HLSBOX) $@ $(STEP_ARGS)

GRID     ?= reuse_factor=1,2,4
EXECUTOR ?= local
sweep: flow-image ## variants of FLOW over GRID (e.g. GRID="reuse_factor=1,2 precision=ap_fixed<8,3>"), EXECUTOR=local|slurm
	$(HLSBOX) sweep --flow $(FLOW) $(foreach axis,$(GRID),--grid '$(axis)') --executor $(EXECUTOR) $(if $(MEM),--mem $(MEM))

demo: image models ## the main job: the fitted digits flow (convert, csim, plan verdict), convert of the seed flow
	$(HLSBOX) convert --flow flows/digits_fit.toml
	$(HLSBOX) csim --flow flows/digits_fit.toml
	$(HLSBOX) plan --flow flows/digits_fit.toml
	$(HLSBOX) convert --flow flows/seed.toml

fit: flow-image ## FLOW -> a flow that fits PART and agrees with Keras (<flow>_fit.toml); AGREEMENT, BUDGET
	$(HLSBOX) fit $(STEP_ARGS) $(if $(AGREEMENT),--agreement $(AGREEMENT)) $(if $(BUDGET),--budget $(BUDGET))

test: image toolchain-images lint ## all tests: lint, unit, integration on Docker, then the core integration tests on Podman
	$(VENV)/bin/pytest
	$(MAKE) --no-print-directory test-podman

toolchain-images: setup ## every toolchain's image (keras2, keras3, qonnx; no-ops when built); `make test` runs their tests
	$(HLSBOX) image build --all $(BUILD_ARGS)

test-podman: setup ## the core integration tests (convert, csim, limits, signals, engine faults, each toolchain, da4ml's rtl/synth/rtlsim) on Podman
	@if command -v podman >/dev/null; then \
	  $(HLSBOX) --engine podman image build --all $(BUILD_ARGS) && \
	  HLSBOX_ENGINE=podman $(VENV)/bin/pytest -m core; \
	elif [ "$${CI:-}" = true ]; then echo "test-podman: podman is not installed (CI needs it)"; exit 1; \
	else echo "test-podman: skipped, podman is not installed (apt-get install podman catatonit)"; fi

test-unit: setup ## the fast tests only (no Docker)
	$(VENV)/bin/pytest -m "not integration"

lint: setup ## ruff
	$(VENV)/bin/ruff check tools tests models
	$(VENV)/bin/ruff format --check tools tests models

bench: image models models/conv1d_bn.keras ## benchmarks -> tests/bench/results/ (not tests: timings)
	$(VENV)/bin/python tests/bench/run.py

estimator-data: image ## re-describe the recorded designs of tests/data/estimator in the image, then the surrogate's data
	$(VENV)/bin/python -m tests.scripts.estimator_accuracy --describe
	$(VENV)/bin/python -m tests.scripts.estimator_accuracy --write-surrogate
	$(VENV)/bin/python -m tests.scripts.estimator_accuracy

doctor: setup ## what is there and what is missing
	$(HLSBOX) doctor

lock: setup ## regenerate the lock of TOOLCHAIN (docker/requirements.lock, docker/<toolchain>/...) from its .in (network)
	$(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip compile $(LOCKDIR)/requirements.in --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header \
	  $(if $(wildcard $(LOCKDIR)/overrides.txt),--override $(LOCKDIR)/overrides.txt) -o $(LOCKDIR)/requirements.lock

clean: setup ## remove stray containers and build/ (keeps the image and models)
	$(HLSBOX) clean --build
