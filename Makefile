# WhisperChat — the two commands a newcomer needs are `make run` and `make test`.

CARGO ?= cargo
BIND ?= 127.0.0.1:8080
DATA_DIR ?= ./data

.PHONY: run test lint features fmt-check clippy clippy-all-features rust-test bench bench-load bench-search bench-upload bench-cluster doc doc-all-features fuzz-check types types-check fuzz

GENERATED_TS = web/src/core/protocol/generated

## Build the web client and the server (which embeds it), and start on
## http://$(BIND) with the embedded SQLite store.
run: web-build
	$(CARGO) run --release -p whisper-server -- --bind $(BIND) --data-dir $(DATA_DIR)

## Every check and test CI runs.
test: lint types-check rust-test web-test web-e2e

lint: fmt-check clippy clippy-all-features doc doc-all-features features fuzz-check

## Every combination of whisper-server's and whisper-store's features builds warning-free.
features:
	.ci/check-features

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

## The same with every feature on (whisper-core's `typescript` and `test-util` too).
clippy-all-features:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

rust-test:
	$(CARGO) test --workspace

## Criterion benchmarks (results: docs/performance.md).
bench:
	$(CARGO) bench -p whisper-benches

## The baseline broadcast server, then whisper-server on SQLite and on
## PostgreSQL, under the same WebSocket loads (about 6 minutes, both cores);
## writes the table into docs/performance.md.
bench-load:
	benches/load/bench-load.sh

## Search latency over 1M messages on SQLite and PostgreSQL, per kind of
## query (about 3 minutes after the build); prints the table for
## docs/performance.md.
bench-search:
	$(CARGO) bench -p whisper-benches --bench search

## The server's memory while it takes ten 10 MiB uploads at once (about a
## minute after the build); prints the table for docs/performance.md.
bench-upload:
	benches/load/bench-upload.sh

## whisper-server as one node, then as three nodes over PostgreSQL and NATS
## (127.0.0.1:4222), under the same WebSocket loads spread over the nodes
## (about 2 minutes after the build); writes the table into docs/performance.md.
bench-cluster:
	benches/load/bench-cluster.sh

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

doc-all-features:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --all-features

## fuzz/ is a workspace of its own: check that its targets still build against
## whisper-core (and are formatted), without the fuzzing toolchain.
fuzz-check:
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --check
	$(CARGO) clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

## ---- The web client (web/) ----------------------------------------------------
## Node 20 and npm; the end-to-end tests also need Debian's chromium (/usr/bin/chromium).
.PHONY: web-build web-test web-e2e

NPM ?= npm
WEB_DEPS = web/node_modules/.installed

# `npm ci` (which also installs web/tools/eslint-config) when a lock file changed.
$(WEB_DEPS): web/package-lock.json web/tools/eslint-config/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(NPM) ci --no-audit --no-fund
	touch $@

## Type-check and build the client into web/dist (what whisper-server serves at /).
web-build: $(WEB_DEPS)
	cd web && $(NPM) run build

## Type-check, lint, check the formatting (prettier) and unit-test the client (vitest).
web-test: $(WEB_DEPS)
	cd web && $(NPM) run typecheck && $(NPM) run lint && $(NPM) run format:check && $(NPM) test

## End-to-end tests in headless Chromium against a real whisper-server.
web-e2e: web-build
	$(CARGO) build -p whisper-server
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(NPM) run e2e

## ---- Fuzzing (fuzz/, a cargo workspace of its own) ---------------------------
## Hostile-input fuzzing with cargo-fuzz (libFuzzer) on the stable toolchain:
## no sanitizer (-s none), debug assertions on (-a). Runs each target for
## FUZZ_SECONDS; new inputs go to fuzz/corpus/<target>/ (seeds/ stays clean),
## a crash to fuzz/artifacts/<target>/, and the run then fails. See fuzz/README.md.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= codec_client_frame session_frames
CARGO_FUZZ_VERSION ?= 0.13.2

fuzz:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		( cd fuzz && $(CARGO) fuzz run -s none -a $$t corpus/$$t seeds/$$t $$( [ -d regressions/$$t ] && echo regressions/$$t ) \
			-- -max_total_time=$(FUZZ_SECONDS) -max_len=70000 -print_final_stats=1 ) || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crash in:$$failed (inputs in fuzz/artifacts/, see fuzz/README.md)"; exit 1; fi
