# The two set-up commands (see README): `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
DEMO_DIR ?= out/demo

.PHONY: setup setup-test build demo test lint bench eval clean

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --test

build: setup
	$(CARGO) build --release

# Main job on embedded defaults: generate demo clips, run the node's analytics on them, show alarms.
demo: build
	bash scripts/demo.sh $(DEMO_DIR)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Everything CI checks: format, lints, the full test suite (real files, real RTSP server).
test: setup-test lint
	$(CARGO) test --all-targets

bench: build
	$(CARGO) bench

clean:
	rm -rf out
