# hermod: a plain GNU Makefile. Sources are found by wildcard: one folder per
# concern under src/, every .c in it is part of the library except src/main.c.
#
#   make            build/hermod (optimised, with debug info)
#   make check      install test dependencies, build, run every test, also under
#                   ASan+UBSan, print "N passed, N failed"
#   make run        install runtime dependencies, build, start `hermod serve`
#   make fuzz       build the libFuzzer harnesses (clang) into build/fuzz/
#   make bench      the relay benchmark against Postfix

CC      ?= cc
PKGS    := libuv openssl sqlite3 jansson libmicrohttpd libcurl libsodium zlib libidn2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunbound -lm
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=gnu17 $(WARN) -Isrc -D_GNU_SOURCE -DHERMOD_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
CFLAGS  ?= -O2 -g
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS     := $(filter-out src/main.c,$(wildcard src/*/*.c))
UNIT     := $(wildcard tests/unit/test_*.c)
FUZZ     := $(wildcard tests/fuzz/fuzz_*.c)

B  := build
BA := build/asan

OBJS      := $(SRCS:src/%.c=$(B)/obj/%.o)
OBJS_ASAN := $(SRCS:src/%.c=$(BA)/obj/%.o)
UNIT_BINS      := $(UNIT:tests/unit/%.c=$(B)/tests/%)
UNIT_BINS_ASAN := $(UNIT:tests/unit/%.c=$(BA)/tests/%)
# Test tools (tests/tools/*.c): small programs the integration tests drive.
TOOL_BINS := $(patsubst tests/tools/%.c,$(B)/tools/%,$(wildcard tests/tools/*.c))

.PHONY: all run check test unit fuzz bench clean deps deps-run asan spool-bench
all: $(B)/hermod

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@
$(BA)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(B)/libhermod.a: $(OBJS)
	@rm -f $@; ar rcs $@ $^
$(BA)/libhermod.a: $(OBJS_ASAN)
	@rm -f $@; ar rcs $@ $^

$(B)/hermod: $(B)/obj/main.o $(B)/libhermod.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread
$(BA)/hermod: $(BA)/obj/main.o $(BA)/libhermod.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(B)/tests/%: tests/unit/%.c $(B)/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libhermod.a -lcmocka $(PKG_LIBS) -lpthread
$(BA)/tests/%: tests/unit/%.c $(BA)/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -o $@ $< $(BA)/libhermod.a -lcmocka $(PKG_LIBS) -lpthread

asan: $(BA)/hermod $(UNIT_BINS_ASAN)
unit: $(UNIT_BINS) $(UNIT_BINS_ASAN) $(TOOL_BINS)

$(B)/tools/%: tests/tools/%.c $(B)/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libhermod.a $(PKG_LIBS) -lpthread
# Micro-benchmarks (bench/*.c), one program each; bench/dkim_bench.sh runs one.
$(B)/bench/%: bench/%.c $(B)/libhermod.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libhermod.a $(PKG_LIBS) -lpthread

deps:
	@scripts/deps.sh test
deps-run:
	@scripts/deps.sh run

# Every test: unit tests (plain and sanitized), short fuzz runs, integration
# tests against the sanitized daemon. tests/run.sh prints the closing line.
check: deps
	$(MAKE) all asan unit fuzz
	tests/run.sh

test: all asan unit
	tests/run.sh

run: deps-run all
	scripts/run.sh

# libFuzzer harnesses: every source compiled again with clang's coverage.
FUZZ_CC := clang
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS := $(SRCS:src/%.c=$(B)/fuzzobj/%.o)
$(B)/fuzzobj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_FLAGS) -c $< -o $@
$(B)/libhermod-fuzz.a: $(FUZZ_OBJS)
	@rm -f $@; ar rcs $@ $^
$(B)/fuzz/%: tests/fuzz/%.c $(B)/libhermod-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< $(B)/libhermod-fuzz.a $(PKG_LIBS) -lpthread
fuzz: $(FUZZ:tests/fuzz/%.c=$(B)/fuzz/%)

# The spool's own micro-benchmark: build/spool_bench -n 20 -s 4096 -t 5
$(B)/spool_bench: bench/spool_bench.c $(B)/libhermod.a
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libhermod.a $(PKG_LIBS) -lpthread
spool-bench: $(B)/spool_bench
	$(B)/spool_bench -n 20 -s 4096 -t 5

bench: all
	bench/run.sh

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(OBJS_ASAN:.o=.d) $(B)/obj/main.d $(BA)/obj/main.d
