# maskgate - the one entry point: make, make run, make test, make bench.
#
#   make              build bin/maskgate.fcgi and bin/maskgate
#   make SANITIZE=1   the same with ASan+UBSan, into build/san/bin
#   make deps         install missing Debian and npm packages (no-op if present)
#   make run          serve on http://127.0.0.1:$(MASKGATE_PORT) behind lighttpd
#   make test         every unit and end-to-end test; last line "N passed, N failed"
#   make bench        benchmarks, written to BENCHMARKS.md
#   make fuzz         run the libFuzzer harnesses for FUZZ_SECONDS each (clang),
#                     table in tests/fuzz/last-run.md
#   make valgrind     every unit test binary under valgrind; "N passed, N failed"
#   make lint         cppcheck and clang-tidy over fcgi/ common/ cli/; "N passed, N failed"

CC ?= cc
SANITIZE ?= 0
FUZZ_SECONDS ?= 60

# What the build needs lives in MG_*, which a user's CFLAGS, LDFLAGS or
# LDLIBS (make CFLAGS=-O0) add to and never replace: without -std=c11
# -D_GNU_SOURCE, memmem would compile as an implicit declaration returning
# a truncated pointer. CFLAGS holds only the optimisation and debug choice.
MG_STD := -std=c11 -D_GNU_SOURCE -Icommon -I/usr/include/postgresql
MG_CFLAGS := $(MG_STD) -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter \
	-fstack-protector-strong
MG_LDFLAGS :=
MG_LDLIBS := -lfcgi -lcurl -ljson-c -lpcre2-8 -lsqlite3 -lpq -lcrypto -ljwt -lz

ifeq ($(SANITIZE),1)
OUT := build/san
BINDIR := build/san/bin
CFLAGS ?= -O1 -g
MG_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
MG_LDFLAGS += -fsanitize=address,undefined
else
OUT := build/rel
BINDIR := bin
endif
CFLAGS ?= -O2 -g

COMMON_SRC := $(sort $(wildcard common/*.c))
FCGI_SRC := $(sort $(wildcard fcgi/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
EMBED_IN := $(sort $(wildcard sql/*.sql sql/pg/*.sql rules/*.rules)) data/models.conf

LIB := $(OUT)/libmaskgate.a
COMMON_OBJ := $(COMMON_SRC:%.c=$(OUT)/%.o) $(OUT)/embed.o
FCGI_OBJ := $(FCGI_SRC:%.c=$(OUT)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(OUT)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(OUT)/fuzz/%)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(OUT)/bench/%)
HEADERS := $(wildcard common/*.h fcgi/*.h cli/*.h tests/unit/*.h tests/fuzz/*.h)

all: $(BINDIR)/maskgate.fcgi $(BINDIR)/maskgate

# Each directory sees only its own headers and common/'s: common/ is the
# core and never includes upward (tests/checksrc.sh checks it too).
$(OUT)/common/%.o: common/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(OUT)/fcgi/%.o: fcgi/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MG_CFLAGS) $(CFLAGS) -Ifcgi -c -o $@ $<

$(OUT)/cli/%.o: cli/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MG_CFLAGS) $(CFLAGS) -Icli -c -o $@ $<

$(OUT)/embed.c: scripts/embed.sh $(EMBED_IN)
	@mkdir -p $(OUT)
	sh scripts/embed.sh $@

$(OUT)/embed.o: $(OUT)/embed.c common/embed.h
	$(CC) $(MG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BINDIR)/maskgate.fcgi: $(FCGI_OBJ) $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(MG_LDFLAGS) $(LDFLAGS) -o $@ $(FCGI_OBJ) $(LIB) $(MG_LDLIBS) $(LDLIBS)

$(BINDIR)/maskgate: $(CLI_OBJ) $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(MG_LDFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(MG_LDLIBS) $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MG_CFLAGS) $(CFLAGS) -Itests/unit $(MG_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB) \
		$(MG_LDLIBS) $(LDLIBS)

# fuzz harnesses built with a replay main for make test
$(OUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MG_CFLAGS) $(CFLAGS) $(MG_LDFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) \
		$(MG_LDLIBS) $(LDLIBS)

$(OUT)/bench/%: tests/bench/%.c $(LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MG_CFLAGS) $(CFLAGS) -Itests/unit $(MG_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB) \
		$(MG_LDLIBS) $(LDLIBS)

unit: $(UNIT_BIN) $(FUZZ_REPLAY) $(BENCH_BIN)

deps:
	@sh scripts/deps.sh

run: deps all
	@sh scripts/run.sh

test: deps all unit
	@MG_BINDIR=$(BINDIR) MG_OUT=$(OUT) sh tests/run.sh

bench: deps all unit
	@MG_BINDIR=$(BINDIR) MG_OUT=$(OUT) sh tests/bench/run.sh

fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) MG_STD="$(MG_STD)" MG_LDLIBS="$(MG_LDLIBS)" sh tests/fuzz/run.sh

# valgrind runs the plain (non-sanitized) unit binaries: ASan and valgrind
# do not mix
valgrind: deps
	@$(MAKE) --no-print-directory SANITIZE=0 unit
	@MG_OUT=build/rel sh tests/valgrind.sh

# cppcheck + clang-tidy (.clang-tidy) with the project's preprocessor flags
lint: deps
	@CFLAGS_LINT="$(MG_STD) -Ifcgi -Icli" sh tests/lint.sh

clean:
	rm -rf build bin

.PHONY: all unit deps run test bench fuzz valgrind lint clean
.DELETE_ON_ERROR:
