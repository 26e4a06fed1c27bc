# The two set-up commands of a fresh Debian 12 machine: `make demo` and `make test`.
PRESET ?= release
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: all deps configure build test demo bench clean asan fuzz fuzz-build fuzz-long tsan

all: build

deps:
	@bash packaging/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then cmake --preset $(PRESET); fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The default (release) run ends with the short fuzz runs; CI runs `make fuzz` as a step of its own.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
ifeq ($(PRESET),release)
	$(MAKE) fuzz
endif

demo: build
	bash packaging/demo.sh $(BUILD)

bench: build
	$(BUILD)/bench/outpost-bench store

# AddressSanitizer + UBSan over the core, storage and client suites (the window's suites need a GL
# driver that is not built with the sanitizers, so they stay in `make test`).
asan:
	$(MAKE) test PRESET=asan

# libFuzzer targets (tests/fuzz) built with clang, ASan and UBSan; a short run of each over a scratch copy
# of its seed corpus (OUTPOST_FUZZ_SECONDS each, set at configure time).
fuzz-build: deps
	@if [ ! -f build/fuzz/build.ninja ]; then cmake --preset fuzz; fi
	cmake --build build/fuzz -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	cd build/fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz

# The long run: FUZZ_SECONDS per target, FUZZ_JOBS workers each, corpus growing in build/fuzz/long/<target>
# (the repository's seeds stay as they are); the executions of each target end up in build/fuzz/long/stats.
FUZZ_SECONDS ?= 3600
FUZZ_JOBS    ?= 1
FUZZ_TARGETS ?= form expr validate push_decode pull_decode hq_handlers bundle_file bundle_content sealed receipt
# Then the USB bundle property test (tests/client/bundle_property_test.cpp) over PROPERTY_ROUNDS round trips.
PROPERTY_ROUNDS ?= 2000
fuzz-long: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) bash tests/fuzz/long_run.sh build/fuzz $(FUZZ_TARGETS)
	$(MAKE) build PRESET=release
	OUTPOST_PROPERTY_ROUNDS=$(PROPERTY_ROUNDS) build/release/tests/outpost-client-tests "[property]"

# ThreadSanitizer over the sync and HQ server suites and the client's (the App's sync worker).
tsan: deps
	@if [ ! -f build/tsan/build.ninja ]; then cmake --preset tsan; fi
	cmake --build build/tsan -j $(JOBS) --target outpost-sync-tests outpost-hq-tests outpost-client-tests
	cd build/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -R '^(sync|hq|client):'

clean:
	rm -rf build
