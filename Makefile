# WhisperChat — the two commands a newcomer needs are `make run` and `make test`.

CARGO ?= cargo
BIND ?= 127.0.0.1:8080
DATA_DIR ?= ./data

.PHONY: run test lint fmt-check clippy rust-test bench doc

## Build and start the server on http://$(BIND) with the embedded SQLite store.
run:
	$(CARGO) run --release -p whisper-server -- --bind $(BIND) --data-dir $(DATA_DIR)

## Every check and test CI runs.
test: lint rust-test

lint: fmt-check clippy

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test:
	$(CARGO) test --workspace

## Criterion benchmarks (results: docs/performance.md).
bench:
	$(CARGO) bench -p whisper-benches

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps
