# WhisperChat — the two commands a newcomer needs are `make run` and `make test`.

CARGO ?= cargo
BIND ?= 127.0.0.1:8080
DATA_DIR ?= ./data

.PHONY: run test lint fmt-check clippy rust-test bench doc types types-check

GENERATED_TS = web/src/core/protocol/generated

## Build and start the server on http://$(BIND) with the embedded SQLite store.
run:
	$(CARGO) run --release -p whisper-server -- --bind $(BIND) --data-dir $(DATA_DIR)

## Every check and test CI runs.
test: lint types-check rust-test

lint: fmt-check clippy

## Regenerate the web client's protocol types from whisper-core's Rust types.
types:
	rm -rf $(GENERATED_TS)
	$(CARGO) test -q -p whisper-core --features typescript export_bindings

## Fails when the committed TypeScript types differ from what the Rust types generate.
types-check: types
	@if [ -n "$$(git status --porcelain -- $(GENERATED_TS))" ]; then \
		git status --short -- $(GENERATED_TS); \
		echo "The generated TypeScript types are stale: run 'make types' and commit $(GENERATED_TS)."; \
		exit 1; \
	fi

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
