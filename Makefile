# The two set-up commands of a fresh Debian 12 machine: `make demo` and `make test`.
PRESET ?= release
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: all deps configure build test demo bench clean asan

all: build

deps:
	@bash packaging/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then cmake --preset $(PRESET); fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	bash packaging/demo.sh $(BUILD)

bench: build
	$(BUILD)/bench/outpost-bench store

# AddressSanitizer + UBSan over the core, storage and client suites (the window's suites need a GL
# driver that is not built with the sanitizers, so they stay in `make test`).
asan:
	$(MAKE) test PRESET=asan

clean:
	rm -rf build
