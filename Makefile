# gmm-testbed: the two commands a new user needs are `make scenario` and
# `make test`; each installs its own Debian packages first (idempotent).
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
DEPS := ansible/install-deps.sh
CMAKE_FLAGS ?=

.PHONY: all deps build test test-fast test-sanitize scenario scenario-vm bench soak image clean \
	repro repro-fig8 repro-fig7 repro-boot repro-detect

all: build

deps:
	@$(DEPS) ansible/packages-build.txt

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan/CMakeCache.txt: | deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGMM_SANITIZE=address -DGMM_BENCH=OFF

build-tsan/CMakeCache.txt: | deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGMM_SANITIZE=thread -DGMM_BENCH=OFF

# Everything: the plain build's tests, then the core under ASan/UBSan (all
# but the 69-case crash-point recovery matrix, which the plain build runs)
# and the concurrent tests under TSan.
test: test-fast test-sanitize

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-sanitize: deps build-asan/CMakeCache.txt build-tsan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS) --target gmm_core_tests
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L 'core|concurrent|crash' -E 'at any crash point is recovered by the others' --timeout 900
	cmake --build build-tsan -j $(JOBS) --target gmm_core_tests
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -j $(JOBS) -L concurrent --timeout 900

# The main job. Until the VM testbed lands it runs in process mode.
SCENARIO ?= scenarios/proc-kill-sharer.yaml
SCENARIO_DIR ?= /tmp/gmm-scenario-$(shell id -un)
scenario: build
	rm -rf $(SCENARIO_DIR)
	$(BUILD)/bin/gmm-host --dir $(SCENARIO_DIR) scenario $(SCENARIO)

# The same experiment on four QEMU guests sharing one ivshmem pool.
scenario-vm: image
	rm -rf $(SCENARIO_DIR)
	$(BUILD)/bin/gmm-host --dir $(SCENARIO_DIR) scenario scenarios/vm-kill-sharer.yaml

bench: build
	$(BUILD)/bench/gmm_bench --benchmark_out=$(BUILD)/bench.json --benchmark_out_format=json

# Thousands of random kills/pauses/restarts under load (about 8 per second).
SOAK_INJECTIONS ?= 2000
soak: build
	GMM_CHAOS_INJECTIONS=$(SOAK_INJECTIONS) $(BUILD)/common/tests/gmm_core_tests "[chaos]"

# The guest image with this build's gmmd, gmmctl and gmm-chase in /usr/bin
# (only those: build/bin also holds host tools and a gmm-agent the image
# builds itself).
image: deps build
	@extra=$$(mktemp -d) && trap 'rm -rf "$$extra"' EXIT && \
	cp $(BUILD)/bin/gmmd $(BUILD)/bin/gmmctl $(BUILD)/bin/gmm-chase "$$extra"/ && \
	GMM_IMAGE_EXTRA="$$extra" guest/image/build-image.sh

# The paper's section-6 measurements (docs/repro.md): CSVs, plots and the
# results page in docs/results/. VM parts take the machine-wide VM lock
# piece by piece. REPRO_QUICK=1: small settings, written to $(BUILD)/repro-quick
# unless REPRO_OUT says otherwise. REPRO_MODES="vm proc" by default.
REPRO_QUICK ?= 0
REPRO_OUT ?= $(if $(filter 1,$(REPRO_QUICK)),$(BUILD)/repro-quick,docs/results)
REPRO_RUN = REPRO_QUICK=$(REPRO_QUICK) scenarios/repro/run.sh $(BUILD) $(REPRO_OUT)
repro: image
	$(REPRO_RUN) all
repro-fig8 repro-fig7 repro-boot repro-detect: repro-%: image
	$(REPRO_RUN) $*

clean:
	rm -rf $(BUILD) build-asan build-tsan
