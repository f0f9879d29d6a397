# kotel build. `make` builds the binaries into build/; `make SAN=1` builds the same tree
# with AddressSanitizer and UndefinedBehaviorSanitizer into build/asan/.

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT ?= -O1
else
BUILD ?= build
SANFLAGS :=
OPT ?= -O2
endif

CC ?= cc
PKGS := rdkafka libprotobuf-c libnghttp2 inih zlib jansson libpcre2-8
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -Icommon -I$(BUILD)/gen $(PKG_CFLAGS)
CFLAGS += -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
          -fno-strict-aliasing $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -lev -lhttp_parser -lmbedtls -lmbedx509 -lmbedcrypto -lpthread -lm

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -DKT_VERSION=\"$(VERSION)\"

PROTOS := $(shell find proto -name '*.proto' | sort)
GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_O := $(GEN_C:.c=.o)
GEN_STAMP := $(BUILD)/gen/.stamp

COMMON_SRC := $(sort $(wildcard common/*.c))
INGEST_SRC := $(filter-out ingest/main.c,$(sort $(wildcard ingest/*.c)))
PROCESS_SRC := $(filter-out process/main.c,$(sort $(wildcard process/*.c process/ottl/*.c)))
DEVBROKER_SRC := $(sort $(wildcard test/devbroker/*.c))
# make bench's tools: one source file each, linking only common/ (never ingest/ or process/).
BENCH_TOOLS := $(patsubst test/bench/%.c,$(BUILD)/kotel-%,$(sort $(wildcard test/bench/*.c)))
# The test cluster's admin tool (scripts/kafka.sh, the integration tests, the bench).
KAFKA_ADMIN := $(BUILD)/kotel-kafka-admin

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/libkt_common.a
INGEST_LIB := $(BUILD)/libkt_ingest.a
PROCESS_LIB := $(BUILD)/libkt_process.a

BINS := $(BUILD)/kotel-ingest $(BUILD)/kotel-devbroker
ifneq ($(wildcard process/main.c),)
BINS += $(BUILD)/kotel-process
endif

UNIT_SRC := $(sort $(wildcard test/unit/*/test_*.c test/unit/*/*/test_*.c))
UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%,$(UNIT_SRC))

.PHONY: all bench-tools deps gen unit-bins test test-unit test-integration demo lint format fuzz fuzz-smoke clean \
        kafka-up kafka-down
all: $(BINS) $(BENCH_TOOLS) $(KAFKA_ADMIN)

deps:
	@scripts/deps.sh

gen: $(GEN_STAMP)

$(GEN_STAMP): $(PROTOS)
	@mkdir -p $(BUILD)/gen
	cd proto && protoc-c --c_out=$(abspath $(BUILD)/gen) $(patsubst proto/%,%,$(PROTOS))
	@touch $@

$(GEN_C): $(GEN_STAMP)

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(CPPFLAGS) $(filter-out -Wshadow -Wstrict-prototypes,$(CFLAGS)) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(COMMON_LIB): $(call obj,$(COMMON_SRC)) $(GEN_O)
	@rm -f $@
	ar rcs $@ $^

$(INGEST_LIB): $(call obj,$(INGEST_SRC))
	@rm -f $@
	ar rcs $@ $^ $(if $^,,$(BUILD)/obj/common/kt_err.o)

$(PROCESS_LIB): $(call obj,$(PROCESS_SRC))
	@rm -f $@
	ar rcs $@ $^ $(if $^,,$(BUILD)/obj/common/kt_err.o)

$(BUILD)/kotel-ingest: $(call obj,ingest/main.c) $(INGEST_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/kotel-process: $(call obj,process/main.c) $(PROCESS_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/kotel-devbroker: $(call obj,$(DEVBROKER_SRC)) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(KAFKA_ADMIN): $(BUILD)/obj/test/kafka/admin.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-tools: $(BENCH_TOOLS)
$(BENCH_TOOLS): $(BUILD)/kotel-%: $(BUILD)/obj/test/bench/%.o $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test links the library of the directory it mirrors plus common (test/unit/process/ottl/
# mirrors process/ottl/, which is part of libkt_process.a).
$(BUILD)/test/unit/common/%: $(call obj,test/unit/common/%.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/test/unit/ingest/%: $(call obj,test/unit/ingest/%.c) $(INGEST_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/test/unit/process/%: $(call obj,test/unit/process/%.c) $(PROCESS_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BINS)

test-unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

test-integration: all
	@KT_BUILD=$(BUILD) scripts/run-integration.sh

# Everything, then everything again under ASan+UBSan.
test: deps
	$(MAKE) all test-unit
	$(MAKE) test-integration
	$(MAKE) SAN=1 all test-unit
	$(MAKE) SAN=1 test-integration
	$(MAKE) fuzz-smoke

# A local Apache Kafka cluster (scripts/kafka.sh; README, Running against Kafka).
KAFKA_BROKERS ?= 3
kafka-up: deps $(KAFKA_ADMIN)
	@KT_BUILD=$(BUILD) scripts/kafka.sh up --brokers $(KAFKA_BROKERS)
kafka-down:
	@KT_BUILD=$(BUILD) scripts/kafka.sh down

# make demo KAFKA=real: the same on a local 3-node Apache Kafka cluster.
KAFKA ?= devbroker
demo: deps
	$(MAKE) all
	@KT_BUILD=$(BUILD) KT_DEMO_KAFKA=$(KAFKA) scripts/demo.sh

# Throughput and CPU cost of both tiers against raw librdkafka clients (README, Performance):
# on kotel-devbroker, or with KAFKA=real on local Apache Kafka clusters of 1 and 3 brokers.
.PHONY: bench
bench: all bench-tools
	@KT_BUILD=$(BUILD) KT_BENCH_KAFKA=$(or $(KAFKA),devbroker) scripts/bench.py

lint: deps
	@scripts/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# libFuzzer targets (clang); fuzz-smoke runs each over its corpus plus a short random run.
FUZZ_SRC := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst test/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon -Ibuild/fuzz/gen $(PKG_CFLAGS)
FUZZ_GEN_STAMP := build/fuzz/gen/.stamp
$(FUZZ_GEN_STAMP): $(PROTOS)
	@mkdir -p build/fuzz/gen
	cd proto && protoc-c --c_out=$(abspath build/fuzz/gen) $(patsubst proto/%,%,$(PROTOS))
	@touch $@
# A target needing more than common/ names its extra sources here.
FUZZ_EXTRA_fuzz_ottl_parse := $(sort $(wildcard process/ottl/*.c))
build/fuzz/fuzz_ottl_parse: $(FUZZ_EXTRA_fuzz_ottl_parse) $(wildcard process/ottl/*.h)
FUZZ_EXTRA_fuzz_trace_decode := process/trace_decode.c process/trace_encode.c
build/fuzz/fuzz_trace_decode: $(FUZZ_EXTRA_fuzz_trace_decode) process/trace_decode.h process/ottl/ottl.h \
                              process/trace_encode.h common/kt_pb.h
build/fuzz/%: test/fuzz/%.c $(COMMON_SRC) $(FUZZ_GEN_STAMP)
	clang $(FUZZ_CFLAGS) -o $@ $< $(COMMON_SRC) $(FUZZ_EXTRA_$*) $(patsubst proto/%.proto,build/fuzz/gen/%.pb-c.c,$(PROTOS)) $(LDLIBS)

fuzz: $(FUZZ_BINS)
fuzz-smoke: $(FUZZ_BINS)
	@scripts/fuzz-smoke.sh $(FUZZ_BINS)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
