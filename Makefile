# tollbooth — `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CARGO       ?= cargo
WASM_TARGET := wasm32-wasip1
# Cargo's target directory (`CARGO_TARGET_DIR` when set).
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),target)
WASM        := $(TARGET_DIR)/$(WASM_TARGET)/release/tollbooth.wasm
# The pass-through filter `make bench` compares tollbooth with (bench/passthrough).
PASSTHROUGH := $(TARGET_DIR)/passthrough/$(WASM_TARGET)/release/tollbooth_bench_passthrough.wasm
VENV        := .venv
PY          := $(VENV)/bin/python
# Host and mock binaries use the dev profile (dependencies optimised, see Cargo.toml), so
# wasmtime is compiled once for both the tests and the binaries.
BIN         := $(TARGET_DIR)/debug
# wasm-bindgen-test-runner must match the wasm-bindgen version in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)

.PHONY: build wasm binaries venv test test-rust test-wasm32 test-python demo bench lint clean

build: wasm binaries

wasm:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	$(CARGO) build --release --target $(WASM_TARGET) -p tollbooth
	@ls -l $(WASM)

binaries:
	$(CARGO) build -p tollbooth-host -p tollbooth-mock --bins

venv: $(VENV)/.installed
$(VENV)/.installed: tests/config/requirements.txt tests/e2e/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/config/requirements.txt -r tests/e2e/requirements.txt
	touch $@

## test: lint (rustfmt; clippy enforces the no-panic rules), unit tests (native and wasm32 under
## Node), the real wasm through the host in both stop-iteration modes, the Envoy/Istio
## configuration checks (with a real Envoy), and the SDK end-to-end tests.
test: build venv lint test-rust test-wasm32 test-python

test-rust: wasm
	TOLLBOOTH_WASM=$(abspath $(WASM)) $(CARGO) test --workspace

test-wasm32:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$"; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --no-default-features; \
	fi
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  $(CARGO) test --target wasm32-unknown-unknown -p tollbooth --lib

test-python: build venv
	TOLLBOOTH_WASM=$(abspath $(WASM)) $(PY) -m pytest tests/config -q
	TOLLBOOTH_WASM=$(abspath $(WASM)) TOLLBOOTH_BIN=$(abspath $(BIN)) $(PY) -m pytest tests/e2e -q

## demo: mock upstream + host with the filter, traffic from several tenants, costs and a table.
demo: build venv
	TOLLBOOTH_WASM=$(abspath $(WASM)) TOLLBOOTH_BIN=$(abspath $(BIN)) $(PY) scripts/demo.py

## bench: issue 5's figures in one table (figure, measured, target, pass/miss): the real wasm
## against a pass-through filter inside the host, plus criterion's native microbenchmarks of
## the core (short settings). A few minutes (the first run also builds the host optimised,
## profile `measure`); not part of `make test`, which runs its smoke test.
bench: wasm
	$(CARGO) build --quiet --release --target $(WASM_TARGET) \
	  --manifest-path bench/passthrough/Cargo.toml --target-dir $(TARGET_DIR)/passthrough
	$(CARGO) bench --quiet -p tollbooth --bench core -- --warm-up-time 1 --measurement-time 2 \
	  --output-format bencher
	$(CARGO) build --quiet --profile measure -p tollbooth-bench
	TOLLBOOTH_WASM=$(abspath $(WASM)) TOLLBOOTH_PASSTHROUGH_WASM=$(abspath $(PASSTHROUGH)) \
	  TOLLBOOTH_CRITERION_DIR=$(abspath $(TARGET_DIR))/criterion \
	  $(TARGET_DIR)/measure/tollbooth-bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tollbooth --target $(WASM_TARGET) -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(VENV)
