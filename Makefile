# Front door. `make test` and `make serve` are the whole set-up on a fresh
# Debian 12 machine: both install what is missing, configure and build.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test serve demo asan-test fuzz fuzz-snapshot fuzz-args bench-http clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	@grep -hE '^(non-SIMD|SIMD|spec):' $(BUILD)/Testing/Temporary/LastTest.log 2>/dev/null || true

# The HTTP service in the foreground, with SQLite and artifacts in ./var/,
# the bundled examples deployed under the tenant "demo", a token and curl
# lines printed. SERVE_ADDR and SERVE_DATA override the defaults.
SERVE_ADDR ?= 127.0.0.1:8080
SERVE_DATA ?= var
serve: build
	@scripts/serve-demo $(BUILD)/tensor-wasm $(SERVE_ADDR) $(SERVE_DATA)

# The CLI tour over the bundled examples (what `make serve` used to run).
demo: build
	@scripts/demo $(BUILD)/tensor-wasm

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
# spec.tier1 is left out: it differs from spec.core only in code compiled
# by cc, which the sanitizers do not instrument, and it is the slowest test.
asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -DTW_ASAN=ON -DTW_UBSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:handle_segv=0:allow_user_segv_handler=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) -E '^spec\.tier1$$'

# libFuzzer targets (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTW_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_decode
	@mkdir -p build-fuzz/corpus-decode
	build-fuzz/fuzz/fuzz_decode -max_total_time=$(FUZZ_SECONDS) \
	  -dict=fuzz/decode.dict build-fuzz/corpus-decode fuzz/corpus/decode

# The snapshot reader's fuzz target (inspect, restore, payload).
fuzz-snapshot: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTW_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_snapshot
	@mkdir -p build-fuzz/corpus-snapshot
	build-fuzz/fuzz/fuzz_snapshot -max_total_time=$(FUZZ_SECONDS) \
	  -dict=fuzz/snapshot.dict build-fuzz/corpus-snapshot fuzz/corpus/snapshot

# The JSON argument codec's fuzz target (CLI --args and HTTP invoke).
fuzz-args: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTW_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_args
	@mkdir -p build-fuzz/corpus-args
	build-fuzz/fuzz/fuzz_args -max_total_time=$(FUZZ_SECONDS) \
	  -dict=fuzz/args.dict build-fuzz/corpus-args fuzz/corpus/args

# HTTP load test on loopback (wrk; nginx as the reference), writing
# bench/results/http-YYYY-MM-DD.md. SOAK_SECONDS for the soak part.
bench-http: build
	@bench/http/run.sh $(BUILD)/tensor-wasm

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
