# track-stats (statistics query API): build and unit-test rules.
# Included by consumer/Makefile; also usable alone:
#   make -C consumer -f stats.mk stats | stats-test | stats-asan | stats-clean
# SANITIZER=address,undefined builds into build/san/ with clang.

STATS_DIR   := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
STATS_BUILD := $(STATS_DIR)/build$(if $(SANITIZER),/san)

STATS_CC      ?= $(if $(SANITIZER),clang,cc)
STATS_CFLAGS  ?= -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
                 -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11
STATS_CFLAGS  += -I/usr/include/mariadb -pthread -MMD -MP \
                 $(if $(SANITIZER),-fsanitize=$(SANITIZER) \
                   -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
STATS_LDFLAGS += -pthread $(if $(SANITIZER),-fsanitize=$(SANITIZER))
STATS_LIBS    := -lmicrohttpd -ljansson -lmariadb

STATS_COMMON  := stats_date stats_params stats_log stats_pool stats_query \
                 stats_http
STATS_OBJS    := $(STATS_COMMON:%=$(STATS_BUILD)/%.o)
STATS_BIN     := $(STATS_BUILD)/track-stats
STATS_TEST    := $(STATS_BUILD)/stats_test

.PHONY: stats stats-test stats-asan stats-clean

stats: $(STATS_BIN)

$(STATS_BUILD)/stats_%.o: $(STATS_DIR)/stats_%.c
	@mkdir -p $(@D)
	$(STATS_CC) $(STATS_CFLAGS) -c -o $@ $<

$(STATS_BIN): $(STATS_OBJS) $(STATS_BUILD)/stats_main.o
	$(STATS_CC) $(STATS_LDFLAGS) -o $@ $^ $(STATS_LIBS)

$(STATS_TEST): $(STATS_OBJS) $(STATS_BUILD)/stats_test.o
	$(STATS_CC) $(STATS_LDFLAGS) -o $@ $^ $(STATS_LIBS)

stats-test: $(STATS_TEST)
	$(STATS_TEST)

# Both binaries with AddressSanitizer + UBSan, and the unit tests under them.
stats-asan:
	$(MAKE) -f $(STATS_DIR)/stats.mk SANITIZER=address,undefined \
	    $(STATS_DIR)/build/san/track-stats stats-test

stats-clean:
	rm -rf $(STATS_DIR)/build/track-stats $(STATS_DIR)/build/stats_* \
	    $(STATS_DIR)/build/san

-include $(wildcard $(STATS_BUILD)/stats_*.d)
