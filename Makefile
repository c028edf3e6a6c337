# Front door. `make test` and `make serve` are the whole set-up on a fresh
# Debian 12 machine: both install what is missing, configure and build.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test serve asan-test fuzz clean

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

# Until the HTTP service exists, the main job is the CLI demo over the
# bundled examples.
serve: build
	@scripts/demo $(BUILD)/tensor-wasm

# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -DTW_ASAN=ON -DTW_UBSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:handle_segv=0:allow_user_segv_handler=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# libFuzzer targets (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTW_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_decode
	@mkdir -p build-fuzz/corpus-decode
	build-fuzz/fuzz/fuzz_decode -max_total_time=$(FUZZ_SECONDS) \
	  -dict=fuzz/decode.dict build-fuzz/corpus-decode fuzz/corpus/decode

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
