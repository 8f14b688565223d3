# twitch-servitor: GNU make is the only build entry point.
#
#   make                 bin/<tool> for every cmd/*.c
#   make check           ASan+UBSan build under build/san, then the whole suite
#   make test            the suite against the normal build (SV_WRAPPER=valgrind...)
#   make fuzz            libFuzzer harnesses under tests/fuzz, FUZZ_SECONDS each
#   make bench           every scripts/bench/*/run, peers side by side
#   make demo            synthetic alerts into ws-broadcast: no Twitch account
#   make lint            clang-format check, mandoc -Tlint, shellcheck
#   make install         PREFIX=/usr/local DESTDIR=

VERSION    = 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share/servitor
PKG_CONFIG ?= pkg-config
CC        ?= cc
FUZZ_CC   ?= clang
FUZZ_SECONDS ?= 20

CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wwrite-strings -Wcast-qual -Wvla
ifeq ($(WERROR),1)
WARN    += -Werror
endif
override CPPFLAGS += -D_DEFAULT_SOURCE -D_FORTIFY_SOURCE=2 -iquote lib \
		     -DSV_VERSION='"$(VERSION)"'
override CFLAGS   += -std=c11 $(WARN) -fstack-protector-strong -pthread
override LDFLAGS  += -Wl,--as-needed -pthread

ifeq ($(V),1)
Q =
else
Q = @
endif

SAN       ?= address,undefined
SAN_FLAGS  = -fsanitize=$(SAN) -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined -O1 -g

pc = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null || echo $(2))
pcflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
CURL_LIBS  := $(call pc,libcurl,-lcurl)
SSL_LIBS   := $(call pc,openssl,-lssl -lcrypto)
AMQP_LIBS  := $(call pc,librabbitmq,-lrabbitmq)
MHD_LIBS   := $(call pc,libmicrohttpd,-lmicrohttpd)
JSON_LIBS  := $(call pc,jansson,-ljansson)
WSLAY_LIBS := $(call pc,libwslay,-lwslay)
override CPPFLAGS += $(call pcflags,libcurl openssl librabbitmq libmicrohttpd jansson)
# --as-needed keeps each binary's real dependencies minimal, so every
# command links the same list and no per-command bookkeeping is needed.
LDLIBS += $(CURL_LIBS) $(AMQP_LIBS) $(MHD_LIBS) $(WSLAY_LIBS) \
	  $(SSL_LIBS) $(JSON_LIBS)

LIB_SRCS  := $(sort $(wildcard lib/*.c))
CMD_SRCS  := $(sort $(wildcard cmd/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/*.c))
CMDS      := $(CMD_SRCS:cmd/%.c=%)
MANS1     := $(sort $(wildcard man/*.1))
MANS7     := $(sort $(wildcard man/*.7))

BINS      := $(CMDS:%=bin/%)
SAN_BINS  := $(CMDS:%=build/san/bin/%)
UNITS     := $(UNIT_SRCS:tests/unit/%.c=build/tests/%)
SAN_UNITS := $(UNIT_SRCS:tests/unit/%.c=build/san/tests/%)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all check test unit fuzz bench demo lint format install uninstall \
	clean san
.DELETE_ON_ERROR:

all: $(BINS)

# --- normal build: objects under build/, binaries in bin/ ---
build/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

build/libservitor.a: $(LIB_SRCS:%.c=build/%.o)
	$(AR) rcs $@ $^

bin/%: build/cmd/%.o build/libservitor.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/tests/%: build/tests/unit/%.o build/libservitor.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- sanitizer build: the same sources under build/san/ (GNU make picks
# the pattern with the shortest stem, so these win for build/san/...) ---
build/san/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

build/san/libservitor.a: $(LIB_SRCS:%.c=build/san/%.o)
	$(AR) rcs $@ $^

build/san/bin/%: build/san/cmd/%.o build/san/libservitor.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

build/san/tests/%: build/san/tests/unit/%.o build/san/libservitor.a
	$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

san: $(SAN_BINS) $(SAN_UNITS)

# --- ws-broadcast embeds its built-in pages (share/overlay/): PAGES is
# scripts/embed's NAME FILE pairs, and its files are what install copies ---
PAGES = ws_broadcast_page share/overlay/index.html \
	ws_broadcast_dashboard share/overlay/dashboard.html \
	ws_broadcast_config share/overlay/overlay.json
OVERLAY_FILES = $(filter share/overlay/%,$(PAGES))
build/gen/ws-broadcast-page.c: $(OVERLAY_FILES) scripts/embed
	@mkdir -p $(@D)
	scripts/embed $(PAGES) >$@
build/gen/ws-broadcast-page.o: build/gen/ws-broadcast-page.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
build/san/gen/ws-broadcast-page.o: build/gen/ws-broadcast-page.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -c -o $@ $<
bin/ws-broadcast: build/gen/ws-broadcast-page.o
build/san/bin/ws-broadcast: build/san/gen/ws-broadcast-page.o

# --- tests ---
SAN_ENV = ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp)

check: $(SAN_BINS) $(SAN_UNITS)
	$(SAN_ENV) SV_BIN=$(abspath build/san/bin) \
	    SV_UNIT=$(abspath build/san/tests) scripts/run-tests $(TESTS)

test: $(BINS) $(UNITS)
	SV_BIN=$(abspath bin) SV_UNIT=$(abspath build/tests) \
	    scripts/run-tests $(TESTS)

unit: $(UNITS)
	SV_UNIT=$(abspath build/tests) scripts/run-tests --unit-only

# --- fuzzing: clang + libFuzzer, lib/ rebuilt with coverage ---
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -g -O1 \
	    -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ \
	    $(LDLIBS)

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do \
	    n=$${f##*/}; mkdir -p build/fuzz/corpus/$$n; \
	    seeds=tests/fuzz/corpus/$$n; [ -d $$seeds ] || seeds=; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		build/fuzz/corpus/$$n $$seeds || exit 1; \
	done

bench: $(BINS)
	@for b in scripts/bench/*/run; do \
	    [ -x "$$b" ] || continue; echo "== $$b"; "$$b" || exit 1; \
	done

demo: $(BINS)
	scripts/demo

lint:
	clang-format --dry-run -Werror $$(git ls-files '*.[ch]')
	mandoc -Tlint -Wwarning $(MANS1) $(MANS7)
	@if command -v shellcheck >/dev/null; then \
	    shellcheck scripts/install-deps scripts/run-tests scripts/demo \
		scripts/embed scripts/bench/*/run $(LAUNCHERS) \
		scripts/*.sh tests/bats/helpers/*.bash; \
	else echo "lint: shellcheck not installed, skipped"; fi

format:
	clang-format -i $$(git ls-files '*.[ch]')

# the launchers, the overlay pages to copy and restyle, and the systemd
# units (in a directory systemd searches, with ExecStart= under BINDIR)
LAUNCHERS = scripts/servitor-local scripts/servitor-amqp
UNITS_SD := $(sort $(wildcard scripts/systemd/*.service))
UNITDIR  ?= $(PREFIX)/lib/systemd/system

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)/overlay \
	    $(DESTDIR)$(DATADIR)/systemd $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BINS) $(LAUNCHERS) $(DESTDIR)$(BINDIR)
	install -m 0644 $(MANS1) $(DESTDIR)$(MANDIR)/man1
	install -m 0644 $(MANS7) $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(OVERLAY_FILES) $(DESTDIR)$(DATADIR)/overlay
	install -m 0644 scripts/systemd/servitor.env $(DESTDIR)$(DATADIR)/systemd
	for u in $(UNITS_SD); do \
	    sed 's|/usr/local/bin/|$(BINDIR)/|' $$u \
		>$(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done

uninstall:
	rm -f $(CMDS:%=$(DESTDIR)$(BINDIR)/%) \
	    $(LAUNCHERS:scripts/%=$(DESTDIR)$(BINDIR)/%) \
	    $(MANS1:man/%=$(DESTDIR)$(MANDIR)/man1/%) \
	    $(MANS7:man/%=$(DESTDIR)$(MANDIR)/man7/%) \
	    $(OVERLAY_FILES:share/overlay/%=$(DESTDIR)$(DATADIR)/overlay/%) \
	    $(DESTDIR)$(DATADIR)/systemd/servitor.env \
	    $(UNITS_SD:scripts/systemd/%=$(DESTDIR)$(UNITDIR)/%)

clean:
	rm -rf build bin

.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
