# kotel build. `make` builds the binaries into build/; `make SAN=1` builds the same tree
# with AddressSanitizer and UndefinedBehaviorSanitizer into build/asan/.
#
# Knobs (on the command line or in the environment):
#   CFLAGS    optimisation and debug flags, yours to change: default -O2 -g (-O1 -g under
#             SAN=1). The flags kotel needs (-std=c11, the warnings, the sanitizers) live in
#             KT_CFLAGS and stay whatever CFLAGS says; `make CFLAGS=-O0` keeps them.
#   CPPFLAGS, LDFLAGS, LDLIBS   added after kotel's own (KT_CPPFLAGS, KT_LDFLAGS, KT_LDLIBS).
#   SAN=1     ASan + UBSan, into build/asan/.
#   WERROR=1  warnings are errors. Off by default so a newer compiler's new warning does not
#             stop a build from source; `make test` (CI) and `make lint` turn it on.
#   LINT=1    the lint build (`make lint`): WERROR=1 plus -Wconversion -Wsign-conversion
#             -Wmissing-prototypes -Wformat=2, into build/lint/.
#   BUILD     the output directory (default build/, build/asan/, build/lint/).
#   FUZZ_CFLAGS   optimisation and debug flags of `make fuzz` (default -O1 -g).
#   FUZZ_SECONDS  `make fuzz FUZZ_SECONDS=N` runs every fuzz target for N seconds over its
#             corpus after building them; without it `make fuzz` only builds.
# A change of the compile line (CC, CPPFLAGS, CFLAGS, WERROR) rebuilds every object of the
# build directory ($(BUILD)/.flags): one directory never mixes objects compiled two ways.
# Generated protobuf-c code ($(BUILD)/gen) is compiled without kotel's warnings and never
# with -Werror: we do not edit it, so its warnings are not ours to fix.

SAN ?= 0
LINT ?= 0
WERROR ?= 0
BUILD ?= build$(if $(filter 1,$(LINT)),/lint)$(if $(filter 1,$(SAN)),/asan)
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS ?= -O1 -g
else
SANFLAGS :=
CFLAGS ?= -O2 -g
endif

CC ?= cc
PKGS := rdkafka libprotobuf-c libnghttp2 inih zlib libdeflate jansson libpcre2-8 libxxhash libzstd snappy
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
KT_CPPFLAGS := $(strip -D_GNU_SOURCE -Icommon -I$(BUILD)/gen $(PKG_CFLAGS) -DKT_VERSION=\"$(VERSION)\")
# Flags every object needs, generated code included.
KT_BASE_CFLAGS := $(strip -std=c11 -fno-strict-aliasing $(SANFLAGS))
KT_WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes
KT_LINT_WARN := -Wconversion -Wsign-conversion -Wmissing-prototypes -Wformat=2
KT_CFLAGS := $(strip $(KT_BASE_CFLAGS) $(KT_WARN) $(if $(filter 1,$(LINT)),$(KT_LINT_WARN)) \
                    $(if $(filter 1,$(WERROR) $(LINT)),-Werror))
KT_LDFLAGS := $(strip $(SANFLAGS))
KT_LDLIBS := $(PKG_LIBS) -lev -lhttp_parser -lmbedtls -lmbedx509 -lmbedcrypto -lpthread -lm
COMPILE = $(CC) $(KT_CPPFLAGS) $(CPPFLAGS) $(KT_CFLAGS) $(CFLAGS)
LINK = $(CC) $(KT_LDFLAGS) $(LDFLAGS)
# Text for inside '...' in a recipe.
shell_quote = $(subst ','\'',$(1))

PROTOS := $(shell find proto -name '*.proto' | sort)
GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_O := $(GEN_C:.c=.o)
GEN_STAMP := $(BUILD)/gen/.stamp
FLAGS_STAMP := $(BUILD)/.flags

COMMON_SRC := $(sort $(wildcard common/*.c))
INGEST_SRC := $(filter-out ingest/main.c,$(sort $(wildcard ingest/*.c)))
PROCESS_SRC := $(filter-out process/main.c,$(sort $(wildcard process/*.c process/ottl/*.c)))
DEVBROKER_SRC := $(sort $(wildcard test/devbroker/*.c))
# kotel-config (config/): reads Collector YAML with libyaml; only it links -lyaml.
CONFIG_SRC := $(filter-out config/main.c,$(sort $(wildcard config/*.c)))
# make bench's tools: one source file each, linking only common/ (never ingest/ or process/).
BENCH_TOOLS := $(patsubst test/bench/%.c,$(BUILD)/kotel-%,$(sort $(wildcard test/bench/*.c)))
# The test cluster's admin tool (scripts/kafka.sh, the integration tests, the bench).
KAFKA_ADMIN := $(BUILD)/kotel-kafka-admin
# Programs the tests run against a library of kotel: test/tools/ottl_apply.c is
# $(BUILD)/test/ottl-apply, linking process/ (test/interop/ottl-diff.test.js); sampling_apply.c
# likewise for test/interop/sampling-diff.test.js.
TEST_TOOLS := $(patsubst test/tools/%.c,$(BUILD)/test/%,$(subst _,-,$(sort $(wildcard test/tools/*.c))))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/libkt_common.a
INGEST_LIB := $(BUILD)/libkt_ingest.a
PROCESS_LIB := $(BUILD)/libkt_process.a
CONFIG_LIB := $(BUILD)/libkt_config.a

BINS := $(BUILD)/kotel-ingest $(BUILD)/kotel-devbroker $(BUILD)/kotel-config
ifneq ($(wildcard process/main.c),)
BINS += $(BUILD)/kotel-process
endif

# The programs that are installed, with a man page and an example configuration each.
PROGRAMS := kotel-ingest$(if $(wildcard process/main.c), kotel-process)
MANS := $(patsubst %,$(BUILD)/man/%.1,$(PROGRAMS))

UNIT_SRC := $(sort $(wildcard test/unit/*/test_*.c test/unit/*/*/test_*.c))
UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%,$(UNIT_SRC))

.PHONY: FORCE all bench-tools deps gen unit-bins test test-unit test-integration demo lint format fuzz fuzz-smoke clean \
        kafka-up kafka-down man etc install uninstall
all: $(BINS) $(BENCH_TOOLS) $(KAFKA_ADMIN) $(TEST_TOOLS) $(MANS)

deps:
	@scripts/deps.sh

gen: $(GEN_STAMP)

$(GEN_STAMP): $(PROTOS)
	@mkdir -p $(BUILD)/gen
	cd proto && protoc-c --c_out=$(abspath $(BUILD)/gen) $(patsubst proto/%,%,$(PROTOS))
	@touch $@

$(GEN_C): $(GEN_STAMP)

# The /status page (common/kt_status.c serves it) as a byte array, so the binaries carry it
# and need no file at run time. od is coreutils', present wherever the build runs; xxd is not
# on a Debian base image. The fuzz build compiles it into build/fuzz/gen the same way.
STATUS_PAGE := common/kt_status_page.html
# Kept: the fuzz targets name it only through a pattern rule, which would make it intermediate.
.PRECIOUS: %/gen/kt_status_page.c
%/gen/kt_status_page.c: $(STATUS_PAGE)
	@mkdir -p $(dir $@)
	@{ echo '/* Generated from $(STATUS_PAGE) by make: edit that file instead. */'; \
	   echo '#include <stddef.h>'; \
	   echo 'extern const unsigned char kt_status_page_html[];'; \
	   echo 'extern const size_t kt_status_page_html_len;'; \
	   echo 'const unsigned char kt_status_page_html[] = {'; \
	   od -An -v -tx1 $< | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '};'; \
	   echo 'const size_t kt_status_page_html_len = sizeof(kt_status_page_html);'; } >$@.tmp
	@mv $@.tmp $@

$(BUILD)/gen/kt_status_page.o: $(BUILD)/gen/kt_status_page.c $(FLAGS_STAMP)
	$(CC) $(KT_CPPFLAGS) $(CPPFLAGS) $(KT_BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(FLAGS_STAMP)
	$(CC) $(KT_CPPFLAGS) $(CPPFLAGS) $(KT_BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP) | $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(COMPILE) -MMD -MP -c $< -o $@

# The compile line of this build directory, rewritten only when it changes, so that objects
# built with other flags are rebuilt rather than linked with the new ones.
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(call shell_quote,$(COMPILE))' | cmp -s - $@ || echo '$(call shell_quote,$(COMPILE))' >$@
FORCE:

$(COMMON_LIB): $(call obj,$(COMMON_SRC)) $(GEN_O) $(BUILD)/gen/kt_status_page.o
	@rm -f $@
	ar rcs $@ $^

$(INGEST_LIB): $(call obj,$(INGEST_SRC))
	@rm -f $@
	ar rcs $@ $^ $(if $^,,$(BUILD)/obj/common/kt_err.o)

$(PROCESS_LIB): $(call obj,$(PROCESS_SRC))
	@rm -f $@
	ar rcs $@ $^ $(if $^,,$(BUILD)/obj/common/kt_err.o)

$(BUILD)/kotel-ingest: $(call obj,ingest/main.c) $(INGEST_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

$(BUILD)/kotel-process: $(call obj,process/main.c) $(PROCESS_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

$(CONFIG_LIB): $(call obj,$(CONFIG_SRC))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kotel-config: $(call obj,config/main.c) $(CONFIG_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $^ -lyaml $(KT_LDLIBS) $(LDLIBS)

$(BUILD)/kotel-devbroker: $(call obj,$(DEVBROKER_SRC)) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

$(KAFKA_ADMIN): $(BUILD)/obj/test/kafka/admin.o
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

$(BUILD)/test/ottl-apply: $(BUILD)/obj/test/tools/ottl_apply.o $(PROCESS_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

$(BUILD)/test/sampling-apply: $(BUILD)/obj/test/tools/sampling_apply.o $(PROCESS_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

bench-tools: $(BENCH_TOOLS)
$(BENCH_TOOLS): $(BUILD)/kotel-%: $(BUILD)/obj/test/bench/%.o $(COMMON_LIB)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS)

# A unit test links the library of the directory it mirrors plus common (test/unit/process/ottl/
# mirrors process/ottl/, which is part of libkt_process.a).
$(BUILD)/test/unit/common/%: $(call obj,test/unit/common/%.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS) -lcmocka
$(BUILD)/test/unit/ingest/%: $(call obj,test/unit/ingest/%.c) $(INGEST_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS) -lcmocka
$(BUILD)/test/unit/process/%: $(call obj,test/unit/process/%.c) $(PROCESS_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(KT_LDLIBS) $(LDLIBS) -lcmocka

$(BUILD)/test/unit/config/%: $(call obj,test/unit/config/%.c) $(CONFIG_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ -lyaml $(KT_LDLIBS) $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BINS)

test-unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

test-integration: all
	@KT_BUILD=$(BUILD) scripts/run-integration.sh

# Everything, then everything again under ASan+UBSan; with -Werror, as CI runs it.
test: deps
	$(MAKE) WERROR=1 all test-unit
	$(MAKE) WERROR=1 test-integration
	$(MAKE) SAN=1 WERROR=1 all test-unit
	$(MAKE) SAN=1 WERROR=1 test-integration
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

# Instructions per span of each tier's hot path under callgrind: repeatable across runs and
# machines, compared with test/bench/instr-baseline.json (README, Performance).
.PHONY: bench-instr
bench-instr: all bench-tools
	@KT_BUILD=$(BUILD) scripts/bench-instr.py

# kotel side by side with the OpenTelemetry Collector (test/otelcol/bench-*), on one local
# Apache Kafka broker (README, Performance). The Collector and telemetrygen come from
# scripts/otelcol.sh, which needs a Go toolchain the first time.
.PHONY: bench-peer
bench-peer: all bench-tools
	@KT_BUILD=$(BUILD) scripts/bench-peer.py

# The chaos ledger on real Kafka (README, Zero loss): 1,000,000 spans through both tiers
# while 50 seeded faults are injected; prints what was sent, acknowledged, delivered, lost
# and duplicated. CHAOS_ARGS passes options, e.g. CHAOS_ARGS="--seed 42".
.PHONY: chaos
chaos: deps
	$(MAKE) all
	@KT_BUILD=$(BUILD) scripts/chaos.sh $(CHAOS_ARGS)

lint: deps
	@scripts/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# libFuzzer targets (clang); fuzz-smoke runs each over its corpus plus a short random run,
# `make fuzz FUZZ_SECONDS=N` the same for N seconds each.
FUZZ_SRC := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst test/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS ?= -O1 -g
FUZZ_KT_CPPFLAGS := -D_GNU_SOURCE -Icommon -Ibuild/fuzz/gen $(PKG_CFLAGS) -DKT_VERSION=\"$(VERSION)\"
FUZZ_KT_CFLAGS := -std=c11 -fsanitize=fuzzer,address,undefined
FUZZ_GEN_STAMP := build/fuzz/gen/.stamp
$(FUZZ_GEN_STAMP): $(PROTOS)
	@mkdir -p build/fuzz/gen
	cd proto && protoc-c --c_out=$(abspath build/fuzz/gen) $(patsubst proto/%,%,$(PROTOS))
	@touch $@
# A target needing more than common/ names its extra sources here.
FUZZ_EXTRA_fuzz_ottl_parse := $(sort $(wildcard process/ottl/*.c))
build/fuzz/fuzz_ottl_parse: $(FUZZ_EXTRA_fuzz_ottl_parse) $(wildcard process/ottl/*.h)
FUZZ_EXTRA_fuzz_ottl_funcs := $(sort $(wildcard process/ottl/*.c))
build/fuzz/fuzz_ottl_funcs: $(FUZZ_EXTRA_fuzz_ottl_funcs) $(wildcard process/ottl/*.h)
FUZZ_EXTRA_fuzz_ottl_extract := $(sort $(wildcard process/ottl/*.c))
build/fuzz/fuzz_ottl_extract: $(FUZZ_EXTRA_fuzz_ottl_extract) $(wildcard process/ottl/*.h)
FUZZ_EXTRA_fuzz_trace_decode := process/trace_decode.c process/trace_encode.c
build/fuzz/fuzz_trace_decode: $(FUZZ_EXTRA_fuzz_trace_decode) process/trace_decode.h \
                              process/ottl/ottl.h process/trace_encode.h
FUZZ_EXTRA_fuzz_span_edit := process/span_edit.c process/transform.c process/trace_decode.c \
                             process/trace_encode.c $(sort $(wildcard process/ottl/*.c))
build/fuzz/fuzz_span_edit: $(FUZZ_EXTRA_fuzz_span_edit) process/span_edit.h process/transform.h \
                           process/trace_decode.h process/trace_encode.h $(wildcard process/ottl/*.h)
FUZZ_EXTRA_fuzz_group_assignment := process/group_desc.c
build/fuzz/fuzz_group_assignment: $(FUZZ_EXTRA_fuzz_group_assignment) process/group_desc.h
FUZZ_EXTRA_fuzz_otlp_wire := ingest/otlp_split.c
build/fuzz/fuzz_otlp_wire: $(FUZZ_EXTRA_fuzz_otlp_wire) ingest/otlp_split.h
FUZZ_EXTRA_fuzz_config := ingest/conf.c
build/fuzz/fuzz_config: $(FUZZ_EXTRA_fuzz_config) ingest/conf.h
FUZZ_EXTRA_fuzz_spool_record := ingest/spool_record.c
build/fuzz/fuzz_spool_record: $(FUZZ_EXTRA_fuzz_spool_record) ingest/spool_record.h
FUZZ_EXTRA_fuzz_auth := ingest/auth.c ingest/conf.c
build/fuzz/fuzz_auth: $(FUZZ_EXTRA_fuzz_auth) ingest/auth.h ingest/conf.h
FUZZ_EXTRA_fuzz_config_import := $(CONFIG_SRC) -lyaml
build/fuzz/fuzz_config_import: $(CONFIG_SRC) $(wildcard config/*.h)
FUZZ_SRV := test/fuzz/srv_harness.c ingest/conn.c ingest/request.c
FUZZ_SRV_H := test/fuzz/srv_harness.h ingest/conn.h ingest/protocol.h ingest/request.h
FUZZ_EXTRA_fuzz_http1 := $(FUZZ_SRV) ingest/http1.c
build/fuzz/fuzz_http1: $(FUZZ_EXTRA_fuzz_http1) $(FUZZ_SRV_H)
FUZZ_EXTRA_fuzz_http2 := $(FUZZ_SRV) ingest/http2.c
build/fuzz/fuzz_http2: $(FUZZ_EXTRA_fuzz_http2) $(FUZZ_SRV_H)
FUZZ_EXTRA_fuzz_tls_conn := $(FUZZ_SRV) ingest/http1.c ingest/http2.c
build/fuzz/fuzz_tls_conn: $(FUZZ_EXTRA_fuzz_tls_conn) $(FUZZ_SRV_H)
build/fuzz/%: test/fuzz/%.c $(COMMON_SRC) $(wildcard common/*.h) $(FUZZ_GEN_STAMP) \
              build/fuzz/gen/kt_status_page.c
	clang $(FUZZ_KT_CPPFLAGS) $(CPPFLAGS) $(FUZZ_KT_CFLAGS) $(FUZZ_CFLAGS) $(LDFLAGS) -o $@ $< \
	  $(COMMON_SRC) build/fuzz/gen/kt_status_page.c $(FUZZ_EXTRA_$*) $(patsubst proto/%.proto,build/fuzz/gen/%.pb-c.c,$(PROTOS)) \
	  $(KT_LDLIBS) $(LDLIBS)

FUZZ_SECONDS ?=
fuzz: $(FUZZ_BINS)
ifneq ($(FUZZ_SECONDS),)
	@KT_FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz-smoke.sh $(FUZZ_BINS)
endif
fuzz-smoke: $(FUZZ_BINS)
	@scripts/fuzz-smoke.sh $(FUZZ_BINS)

clean:
	rm -rf build

# Man pages, written by each program from its option table (--print-man); never committed.
man: $(MANS)
$(BUILD)/man/%.1: $(BUILD)/%
	@mkdir -p $(dir $@)
	$< --print-man >$@.tmp && mv $@.tmp $@

# etc/<program>.ini are each program's --print-example-config, committed so that they can be
# read without building. After a change of an option table, `make etc` writes them again;
# test/integration/install.test.js fails while they differ.
etc: $(patsubst %,$(BUILD)/%,$(PROGRAMS))
	@for p in $(PROGRAMS); do \
	  $(BUILD)/$$p --print-example-config >etc/$$p.ini.tmp && mv etc/$$p.ini.tmp etc/$$p.ini \
	    && echo "etc/$$p.ini"; \
	done

# make install [PREFIX=/usr/local] [DESTDIR=...]: the programs, their man pages, the example
# configurations (an existing one is kept), the systemd units and the Prometheus alert rules
# (README, Installing).
# SYSCONFDIR is /etc whatever PREFIX is: the units' ConfigurationDirectory=kotel is /etc/kotel.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
UNITS := $(patsubst etc/systemd/%.in,%,$(wildcard etc/systemd/*.service.in))
# The units after `make install` fills in their paths (|, the sed delimiter, cannot be in one).
UNIT_SED := -e 's|@BINDIR@|$(call shell_quote,$(BINDIR))|g' \
            -e 's|@SYSCONFDIR@|$(call shell_quote,$(SYSCONFDIR))|g'

install: $(patsubst %,$(BUILD)/%,$(PROGRAMS)) $(MANS)
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' \
	  '$(DESTDIR)$(SYSCONFDIR)/kotel' '$(DESTDIR)$(UNITDIR)' '$(DESTDIR)$(DATADIR)/kotel'
	$(INSTALL) -m 755 $(patsubst %,$(BUILD)/%,$(PROGRAMS)) '$(DESTDIR)$(BINDIR)/'
	$(INSTALL) -m 644 $(MANS) '$(DESTDIR)$(MANDIR)/man1/'
	$(INSTALL) -m 644 etc/prometheus/kotel-alerts.yml '$(DESTDIR)$(DATADIR)/kotel/'
	@for p in $(PROGRAMS); do \
	  f='$(DESTDIR)$(SYSCONFDIR)'/kotel/$$p.ini; \
	  if [ -e "$$f" ]; then echo "install: $$f exists, kept"; \
	  else echo "$(INSTALL) -m 644 etc/$$p.ini $$f"; $(INSTALL) -m 644 etc/$$p.ini "$$f" || exit 1; fi; \
	done
	@for u in $(UNITS); do \
	  echo "sed etc/systemd/$$u.in >'$(DESTDIR)$(UNITDIR)'/$$u"; \
	  sed $(UNIT_SED) etc/systemd/$$u.in >'$(DESTDIR)$(UNITDIR)'/$$u.tmp && \
	  chmod 644 '$(DESTDIR)$(UNITDIR)'/$$u.tmp && \
	  mv '$(DESTDIR)$(UNITDIR)'/$$u.tmp '$(DESTDIR)$(UNITDIR)'/$$u || exit 1; \
	done

# Leaves the configurations in $(SYSCONFDIR)/kotel: they may hold the operator's changes.
uninstall:
	rm -f $(patsubst %,'$(DESTDIR)$(BINDIR)'/%,$(PROGRAMS)) \
	  $(patsubst %,'$(DESTDIR)$(MANDIR)/man1'/%.1,$(PROGRAMS)) \
	  $(patsubst %,'$(DESTDIR)$(UNITDIR)'/%,$(UNITS)) \
	  '$(DESTDIR)$(DATADIR)/kotel/kotel-alerts.yml'

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
