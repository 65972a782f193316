# Shoal build. `make` builds everything into build/ (binaries in build/bin/).
# Header dependencies are tracked (-MMD -MP), so an edit rebuilds only what depends on it.
#
# Layout rules the build relies on:
#   *_test.cc       a GoogleTest unit test, linked into build/bin/tests/<name>
#   *_fuzz.cc       a libFuzzer target (built by `make fuzz` with clang)
#   main.cc         a binary's entry point (see BINARIES below)
#   everything else in common/ node/ proxy/ tools/ is library code of its directory tree,
#   except tools/sim/ (the replication simulation: links the node and proxy libraries, which may
#   not include each other; its *_test.cc are unit tests like the others).

CXX      ?= g++
BUILD    ?= build
OPT      ?= -O2
CXXFLAGS ?= $(OPT) -g
# Required flags stay even when CXXFLAGS/LDFLAGS are given on the command line (sanitizer builds:
# make BUILD=build-asan CXXFLAGS='-O1 -g -fsanitize=address' LDFLAGS=-fsanitize=address; `make asan`
# and `make tsan` do this and run the unit and integration suites on the instrumented binaries).
override CXXFLAGS += -std=c++20 -Wall -Wextra -Wno-unused-parameter -pthread
override CPPFLAGS += -I. -I$(BUILD)/gen -MMD -MP
override LDFLAGS  += -pthread

GEN_DIR   := $(BUILD)/gen/schemas
SCHEMAS   := $(wildcard schemas/*.fbs)
GEN_HDRS  := $(patsubst schemas/%.fbs,$(GEN_DIR)/%_generated.h,$(SCHEMAS))

lib_srcs = $(filter-out %_test.cc %_fuzz.cc %/main.cc,$(shell find $(1) -name '*.cc' 2>/dev/null))
test_srcs = $(shell find $(1) -name '*_test.cc' 2>/dev/null)

COMMON_SRCS := $(call lib_srcs,common)
NODE_SRCS   := $(call lib_srcs,node)
PROXY_SRCS  := $(call lib_srcs,proxy)
TOOLS_SRCS  := $(filter-out tools/sim/%,$(call lib_srcs,tools))
SIM_SRCS    := $(call lib_srcs,tools/sim)

obj = $(patsubst %.cc,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/lib/libshoal_common.a
NODE_LIB   := $(BUILD)/lib/libshoal_node.a
PROXY_LIB  := $(BUILD)/lib/libshoal_proxy.a

COMMON_LIBS := -lspdlog -lfmt -lyaml-cpp -lxxhash -lcrypto -lprometheus-cpp-core -lcivetweb -lprofiler
NODE_LIBS   := -luv -lrocksdb $(COMMON_LIBS)
PROXY_LIBS  := -levent_core -levent_pthreads $(COMMON_LIBS)
TEST_LIBS   := -lgmock -lgtest_main -lgtest

BINARIES := $(BUILD)/bin/shoal-node $(BUILD)/bin/shoal-proxy $(BUILD)/bin/shoalctl

COMMON_TESTS := $(patsubst %.cc,$(BUILD)/bin/tests/%,$(notdir $(call test_srcs,common)))
NODE_TESTS   := $(patsubst %.cc,$(BUILD)/bin/tests/%,$(notdir $(call test_srcs,node)))
PROXY_TESTS  := $(patsubst %.cc,$(BUILD)/bin/tests/%,$(notdir $(call test_srcs,proxy)))
TOOLS_TESTS  := $(patsubst %.cc,$(BUILD)/bin/tests/%,$(notdir $(filter-out tools/sim/%,$(call test_srcs,tools))))
SIM_TESTS    := $(patsubst %.cc,$(BUILD)/bin/tests/%,$(notdir $(call test_srcs,tools/sim)))
TESTS := $(COMMON_TESTS) $(NODE_TESTS) $(PROXY_TESTS) $(TOOLS_TESTS) $(SIM_TESTS)

.PHONY: all deps test unit-test integration-test chaos run bench bench-store fuzz clean format asan tsan
all: $(BINARIES) $(TESTS)

deps:
	@scripts/install-deps.sh

# ---- code generation -------------------------------------------------------------------------
# The git revision (shoal_build_info, common/admin/build_info.cc): the header is rewritten only
# when the revision changes, so only that one file recompiles.
GIT_REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(shell mkdir -p $(BUILD)/gen && echo '#define SHOAL_GIT_REVISION "$(GIT_REVISION)"' > $(BUILD)/gen/shoal_revision.h.tmp && \
  (cmp -s $(BUILD)/gen/shoal_revision.h.tmp $(BUILD)/gen/shoal_revision.h || mv $(BUILD)/gen/shoal_revision.h.tmp $(BUILD)/gen/shoal_revision.h); \
  rm -f $(BUILD)/gen/shoal_revision.h.tmp)

$(GEN_DIR)/%_generated.h: schemas/%.fbs
	@mkdir -p $(GEN_DIR)
	flatc --cpp --scoped-enums --gen-mutable -o $(GEN_DIR) $<

# Every object may include generated headers: generate them first. They are only order-only
# prerequisites of pattern rules, which would make them intermediate: make would delete them at
# the end of a fresh build, and the next build would regenerate them and recompile everything.
.SECONDARY: $(GEN_HDRS)
$(BUILD)/obj/%.o: %.cc | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

# ---- libraries ------------------------------------------------------------------------------
$(COMMON_LIB): $(call obj,$(COMMON_SRCS))
$(NODE_LIB): $(call obj,$(NODE_SRCS))
$(PROXY_LIB): $(call obj,$(PROXY_SRCS))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# ---- binaries -------------------------------------------------------------------------------
$(BUILD)/bin/shoal-node: $(call obj,node/main.cc) $(NODE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(NODE_LIBS)

$(BUILD)/bin/shoal-proxy: $(call obj,proxy/main.cc) $(PROXY_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(PROXY_LIBS)

$(BUILD)/bin/shoalctl: $(call obj,tools/shoalctl/main.cc $(TOOLS_SRCS)) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(COMMON_LIBS)

# ---- unit tests (one binary per *_test.cc) ---------------------------------------------------
define test_rule
$(BUILD)/bin/tests/$(basename $(notdir $(1))): $(call obj,$(1)) $(2)
	@mkdir -p $$(dir $$@)
	$$(CXX) $$(LDFLAGS) -o $$@ $$^ $(3) $$(TEST_LIBS)
endef
$(foreach t,$(call test_srcs,common),$(eval $(call test_rule,$(t),$(COMMON_LIB),$(COMMON_LIBS))))
$(foreach t,$(call test_srcs,node),$(eval $(call test_rule,$(t),$(NODE_LIB) $(COMMON_LIB),$(NODE_LIBS))))
$(foreach t,$(call test_srcs,proxy),$(eval $(call test_rule,$(t),$(PROXY_LIB) $(COMMON_LIB),$(PROXY_LIBS))))
$(foreach t,$(filter-out tools/sim/%,$(call test_srcs,tools)),$(eval $(call test_rule,$(t),$(call obj,$(TOOLS_SRCS)) $(COMMON_LIB),$(COMMON_LIBS))))
$(foreach t,$(call test_srcs,tools/sim),$(eval $(call test_rule,$(t),$(call obj,$(SIM_SRCS)) $(NODE_LIB) $(PROXY_LIB) $(COMMON_LIB),$(NODE_LIBS) $(PROXY_LIBS))))

# ---- the two commands -----------------------------------------------------------------------
unit-test: $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; $$t --gtest_brief=1 || fail=1; done; exit $$fail

integration-test: $(BINARIES)
	SHOAL_BIN=$(abspath $(BUILD)/bin) /usr/bin/python3 -m pytest -q integration_tests

# The chaos runs, long (make test runs them for ~18 s each): SHOAL_CHAOS_SECONDS (default 300)
# and SHOAL_CHAOS_SEED choose the run.
chaos: deps
	$(MAKE) $(BINARIES)
	SHOAL_CHAOS_SECONDS=$${SHOAL_CHAOS_SECONDS:-300} SHOAL_BIN=$(abspath $(BUILD)/bin) \
	  /usr/bin/python3 -m pytest -q integration_tests/test_chaos_restarts.py

test: deps
	$(MAKE) all
	$(MAKE) unit-test
	$(MAKE) integration-test

run: deps
	$(MAKE) $(BINARIES)
	scripts/run-cluster.sh

bench: deps
	$(MAKE) $(BINARIES)
	bench/run.sh

# One ShardStore's latency while its table grows and its expiry sweep (docs/benchmarks.md);
# not part of `all` or `test`.
$(BUILD)/bin/store_bench: $(call obj,bench/store_bench.cc) $(NODE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(NODE_LIBS)

bench-store: $(BUILD)/bin/store_bench
	$(BUILD)/bin/store_bench $(STORE_BENCH_ARGS)

# ---- sanitizers (not part of `make test`: too slow for CI) -------------------------------------
# Everything is built into build-asan/ or build-tsan/, then the unit tests and the integration
# suite run on those binaries. Reports go to files under $(BUILD)/sanitizer-logs (the nodes and
# proxies the suite starts write there too, whatever their exit); any report fails the target.
ASAN_CXXFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_LDFLAGS  := -fsanitize=address,undefined
TSAN_CXXFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
TSAN_LDFLAGS  := -fsanitize=thread
# SHOAL_SLOW=1: tests with a wall-clock bound allow ten times more (sanitized code is that slow).
# SHOAL_SANITIZER=asan|tsan: which instrumentation the binaries have (integration_tests/harness.py:
# the few bounds meaningless under it, RSS under ASan's shadow memory, are skipped there).
# verify_asan_link_order=0: the clock-skew tests preload libfaketime, which ASan would otherwise
# refuse to start behind.
SAN_ENV = SHOAL_SLOW=1 SHOAL_SANITIZER=$(patsubst build-%,%,$(notdir $(1))) ASAN_OPTIONS=log_path=$(abspath $(1))/sanitizer-logs/asan:detect_leaks=1:abort_on_error=0:verify_asan_link_order=0 \
	UBSAN_OPTIONS=log_path=$(abspath $(1))/sanitizer-logs/ubsan:print_stacktrace=1:halt_on_error=1 \
	TSAN_OPTIONS=log_path=$(abspath $(1))/sanitizer-logs/tsan:halt_on_error=0:second_deadlock_stack=1:suppressions=$(abspath scripts/tsan.supp)
define sanitized_run
	$(MAKE) BUILD=$(1) CXXFLAGS='$(2)' LDFLAGS='$(3)' all
	rm -rf $(1)/sanitizer-logs && mkdir -p $(1)/sanitizer-logs
	fail=0; $(call SAN_ENV,$(1)) $(MAKE) BUILD=$(1) CXXFLAGS='$(2)' LDFLAGS='$(3)' unit-test || fail=1; \
	$(call SAN_ENV,$(1)) $(MAKE) BUILD=$(1) CXXFLAGS='$(2)' LDFLAGS='$(3)' integration-test || fail=1; \
	if ls $(1)/sanitizer-logs/* >/dev/null 2>&1; then \
	  echo "sanitizer reports:"; head -n 60 $(1)/sanitizer-logs/*; fail=1; fi; \
	exit $$fail
endef
asan: deps
	$(call sanitized_run,build-asan,$(ASAN_CXXFLAGS),$(ASAN_LDFLAGS))
tsan: deps
	$(call sanitized_run,build-tsan,$(TSAN_CXXFLAGS),$(TSAN_LDFLAGS))

# ---- fuzzing (clang + libFuzzer) --------------------------------------------------------------
FUZZ_SRCS := $(shell find common proxy node -name '*_fuzz.cc' 2>/dev/null)
fuzz:
	@SHOAL_WITH_FUZZ=1 scripts/install-deps.sh
	@$(MAKE) $(GEN_HDRS)
	@scripts/fuzz.sh $(FUZZ_SRCS)

format:
	clang-format -i $$(find common node proxy tools -name '*.h' -o -name '*.cc')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
