# abyss - one plain, non-recursive Makefile.  `make help` lists the targets.
include config.mk

.DEFAULT_GOAL := all

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
# (-Wno-unused-parameter: callbacks and vtable slots ignore arguments by
#  design; every other warning is on.)

CPPFLAGS += -Iinclude -D_GNU_SOURCE
CFLAGS   ?=
CFLAGS   += -std=c11 $(OPT) -g -fPIC $(WARN) -MMD -MP
LDLIBS   += -ljansson -lm -lpthread
ifeq ($(WITH_OPENMP),1)
CFLAGS   += -fopenmp
LDFLAGS  += -fopenmp
endif
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Modules of the library; a module may add flags or libraries in its own
# module.mk (included below), so this file stays the only Makefile.
LIB_MODULES := common setitec hole depth sim nn
LIB_SRCS := $(foreach m,$(LIB_MODULES),$(wildcard src/$(m)/*.c))
# The daemon's modules go into the binary, not into libabyss.
APP_MODULES := service http
APP_SRCS := $(foreach m,$(APP_MODULES),$(wildcard src/$(m)/*.c))
CLI_SRCS := $(wildcard src/cli/*.c)
# Headers of the daemon's modules (not part of libabyss, not installed);
# module.mk files append to APP_HEADERS.
APP_HEADERS := include/abyss/http.h include/abyss/metrics.h
-include $(wildcard src/*/module.mk)
LIB_HEADERS = $(filter-out $(APP_HEADERS),$(wildcard include/abyss/*.h))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
APP_OBJS := $(APP_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)

SOVERSION := 0
VERSION := $(shell sed -n 's/^\#define ABYSS_VERSION[ \t]*"\(.*\)"/\1/p' include/abyss/version.h)
LIB_A  := $(BUILD)/libabyss.a
LIB_SO := $(BUILD)/libabyss.so.$(SOVERSION)
BIN    := $(BUILD)/abyss

TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_UTIL := $(BUILD)/obj/tests/unit/testutil.o
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)

.PHONY: all lib test unit fuzz-replay check lint format format-check asan \
	valgrind fuzz bench install uninstall deps demo clean help man

.SECONDARY:

all: $(LIB_A) $(LIB_SO) $(BIN)
lib: $(LIB_A) $(LIB_SO)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(CFLAGS_$(subst /,_,$(dir $<))) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libabyss.so.$(SOVERSION) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	$(Q)ln -sf libabyss.so.$(SOVERSION) $(BUILD)/libabyss.so

$(BIN): $(CLI_OBJS) $(APP_OBJS) $(LIB_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(APP_OBJS) $(LIB_A) $(APP_LDLIBS) $(LDLIBS)

# ---- tests ----------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(TEST_UTIL) $(APP_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Isrc -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_UTIL) \
		$(APP_OBJS) $(LIB_A) -lcmocka $(APP_LDLIBS) $(LDLIBS)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(LIB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  REPLAY  $@")
	$(Q)$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c \
		$(LIB_A) $(LDLIBS)

unit: $(TEST_BINS) $(REPLAY_BINS) $(BIN)

# make test: install what is missing, build, run every test.
test: deps
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)ABYSS_DATA=$(ABYSS_DATA) ABYSS_VECTORS=$(ABYSS_VECTORS) BUILD=$(BUILD) \
		sh tests/run.sh $(TEST_BINS:$(BUILD)/tests/%=%)

# ---- quality gates --------------------------------------------------------
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

lint:
	sh tests/lint.sh

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
		SANITIZE=address,undefined WITH_OPENMP=0 unit
	$(Q)ASAN_OPTIONS=detect_leaks=1 ABYSS_DATA=$(ABYSS_DATA) \
		ABYSS_VECTORS=$(ABYSS_VECTORS) BUILD=build-asan sh tests/run.sh \
		$(TEST_BINS:$(BUILD)/tests/%=%)

valgrind:
	$(Q)$(MAKE) --no-print-directory BUILD=build-vg OPT=-O1 WITH_OPENMP=0 unit
	$(Q)ABYSS_DATA=$(ABYSS_DATA) ABYSS_VECTORS=$(ABYSS_VECTORS) BUILD=build-vg \
		ABYSS_VALGRIND=1 sh tests/run.sh $(TEST_BINS:$(BUILD)/tests/%=%)

check: deps
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory lint
	$(Q)$(MAKE) --no-print-directory test
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)$(MAKE) --no-print-directory valgrind

# libFuzzer targets (clang); `make fuzz FUZZ_TIME=60` runs each for a while.
FUZZ_TIME ?= 20
fuzz: $(LIB_SRCS)
	sh tests/fuzz/run.sh $(FUZZ_TIME)

bench: all
	sh bench/run.sh

# ---- install --------------------------------------------------------------
BINDIR  := $(PREFIX)/bin
LIBDIR  := $(PREFIX)/lib
INCDIR  := $(PREFIX)/include
MANDIR  := $(PREFIX)/share/man
PCDIR   := $(LIBDIR)/pkgconfig

install: all
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		packaging/abyss.pc.in > $(BUILD)/abyss.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)/abyss \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PCDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/abyss
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libabyss.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libabyss.so.$(SOVERSION)
	ln -sf libabyss.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libabyss.so
	install -m 644 $(LIB_HEADERS) $(DESTDIR)$(INCDIR)/abyss/
	install -m 644 $(BUILD)/abyss.pc $(DESTDIR)$(PCDIR)/abyss.pc
	install -m 644 man/abyss.1 $(DESTDIR)$(MANDIR)/man1/abyss.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/abyss $(DESTDIR)$(LIBDIR)/libabyss.a \
		$(DESTDIR)$(LIBDIR)/libabyss.so $(DESTDIR)$(LIBDIR)/libabyss.so.$(SOVERSION) \
		$(DESTDIR)$(PCDIR)/abyss.pc $(DESTDIR)$(MANDIR)/man1/abyss.1
	rm -rf $(DESTDIR)$(INCDIR)/abyss

# ---- convenience ----------------------------------------------------------
deps:
	$(Q)sh scripts/deps.sh $(DEB_PACKAGES)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh scripts/demo.sh $(BIN)

clean:
	rm -rf build build-asan build-vg build-fuzz

help:
	@echo "make            build libabyss and the abyss binary into $(BUILD)/"
	@echo "make test       install missing packages, build, run every test"
	@echo "make check      format-check, lint, test, ASan+UBSan, valgrind"
	@echo "make demo       install, build, run the main job on built-in data"
	@echo "make bench      print parser and estimator throughput"
	@echo "make fuzz       run the libFuzzer targets (clang)"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=... ; make uninstall"
	@echo "make format     clang-format the tree; make lint: clang-tidy, cppcheck"
	@echo "make deps       apt-get install the Debian 12 packages needed"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
