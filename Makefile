# gmm-testbed: the two commands a new user needs are `make scenario` and
# `make test`; each installs its own Debian packages first (idempotent).
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
DEPS := ansible/install-deps.sh
CMAKE_FLAGS ?=

.PHONY: all deps build test test-fast test-sanitize test-fuzz fuzz scenario scenario-proc scenarios-vm shell bench soak image clean \
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

# clang + libFuzzer + ASan/UBSan, only the fuzz targets are built
build-fuzz/CMakeCache.txt: | deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
		-DGMM_FUZZ=ON -DGMM_BENCH=OFF

build-tsan/CMakeCache.txt: | deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGMM_SANITIZE=thread -DGMM_BENCH=OFF

# Everything: the plain build's tests (the VM scenarios and the window
# probe among them, label vm, so the guest image is built first), then the
# core under ASan/UBSan (all but the 69-case crash-point recovery matrix,
# which the plain build runs), the concurrent tests under TSan, and a
# bounded run of the request fuzzer.
test: test-fast test-sanitize test-fuzz

test-fast: build image
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-sanitize: deps build-asan/CMakeCache.txt build-tsan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS) --target gmm_core_tests
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L 'core|concurrent|crash' -E 'at any crash point is recovered by the others' --timeout 900
	cmake --build build-tsan -j $(JOBS) --target gmm_core_tests
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -j $(JOBS) -L concurrent --timeout 900

test-fuzz: deps build-fuzz/CMakeCache.txt
	cmake --build build-fuzz -j $(JOBS) --target gmm_request_fuzzer
	cd build-fuzz && ctest --output-on-failure -L fuzz --timeout 300

# The request fuzzer for FUZZ_SECONDS (default 10 minutes), keeping what it
# learns in build-fuzz/guest/proto/fuzz-corpus; a crash leaves crash-* there.
FUZZ_SECONDS ?= 600
fuzz: deps build-fuzz/CMakeCache.txt
	cmake --build build-fuzz -j $(JOBS) --target gmm_request_fuzzer
	build-fuzz/guest/proto/gmm_request_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-dict=guest/proto/fuzz/request.dict -artifact_prefix=build-fuzz/guest/proto/ -print_final_stats=1 \
		build-fuzz/guest/proto/fuzz-corpus guest/proto/fuzz/corpus

# The main job: scenarios/vm-kill-sharer.yaml on four QEMU guests sharing
# one ivshmem pool (kill a node that shares sections and holds a directory
# copy; the survivors recover; prints detection and recovery times).
SCENARIO ?= scenarios/vm-kill-sharer.yaml
SCENARIO_DIR ?= /tmp/gmm-scenario-$(shell id -un)
scenario: image
	rm -rf $(SCENARIO_DIR)
	$(BUILD)/bin/gmm-host --dir $(SCENARIO_DIR) scenario $(SCENARIO)

# The same experiment with gmmd processes on a pool file (no VMs).
scenario-proc: build
	rm -rf $(SCENARIO_DIR)
	$(BUILD)/bin/gmm-host --dir $(SCENARIO_DIR) scenario scenarios/proc-kill-sharer.yaml

# Every VM scenario in scenarios/, one after the other (scenarios/README.md).
scenarios-vm: image
	@failed=""; for file in scenarios/vm-*.yaml; do \
	  rm -rf $(SCENARIO_DIR); \
	  $(BUILD)/bin/gmm-host --dir $(SCENARIO_DIR) scenario $$file || failed="$$failed $$file"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; echo "all VM scenarios passed"

# A shell on node NODE of the running VM cluster in CLUSTER_DIR (start one
# with `gmm-host up --mode vm ...`); Ctrl-] detaches.
NODE ?= 0
CLUSTER_DIR ?= $(or $(GMM_CLUSTER_DIR),/tmp/gmm-cluster-$(shell id -un))
shell:
	@test -x $(BUILD)/bin/gmm-host || { echo "make shell: $(BUILD)/bin/gmm-host not built; run make image, then gmm-host up --mode vm" >&2; exit 2; }
	$(BUILD)/bin/gmm-host --dir $(CLUSTER_DIR) console $(NODE)

bench: build
	$(BUILD)/bench/gmm_bench --benchmark_out=$(BUILD)/bench.json --benchmark_out_format=json

# Thousands of random kills/pauses/restarts under load (about 8 per second).
SOAK_INJECTIONS ?= 2000
soak: build
	GMM_CHAOS_INJECTIONS=$(SOAK_INJECTIONS) $(BUILD)/common/tests/gmm_core_tests "[chaos]"

# The guest image with this build's gmmd, gmmctl, gmm-window-probe and
# gmm-chase in /usr/bin (only those: build/bin also holds host tools and a
# gmm-agent the image builds itself).
image: deps build
	@extra=$$(mktemp -d) && trap 'rm -rf "$$extra"' EXIT && \
	cp $(BUILD)/bin/gmmd $(BUILD)/bin/gmmctl $(BUILD)/bin/gmm-window-probe $(BUILD)/bin/gmm-chase "$$extra"/ && \
	GMM_IMAGE_EXTRA="$$extra" GMM_IMAGE_DIR="$(abspath $(BUILD))/image" guest/image/build-image.sh

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
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
