# track-stats (statistics query API): build and test rules, included at the
# end of consumer/Makefile.  Also usable alone:
#   make -C consumer -f stats.mk stats | stats-test | stats-asan | stats-clean
# SANITIZER=address,undefined builds into build/stats-address-undefined/.
#
# Hooks into the consumer's targets (prerequisites only, no recipes touched):
#   all          also builds track-stats
#   unit         also runs the track-stats unit tests, counts in $(BUILD)
#   integration  under SANITIZER, also runs t/integration/stats-api.t against
#                the sanitizer build (the release build is run by t/harness.sh
#                stage d like every t/integration/*.t)

stats_comma := ,
STATS_DIR   := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
STATS_BUILD := $(STATS_DIR)/build/stats$(if $(SANITIZER),-$(subst \
                 $(stats_comma),-,$(SANITIZER)))

STATS_CC      := $(if $(SANITIZER),clang,$(or $(STATS_CC),cc))
STATS_CFLAGS  ?= -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
                 -Wno-unused-parameter -Wno-missing-field-initializers \
                 -std=gnu11
STATS_CFLAGS  += -I/usr/include/mariadb -pthread -MMD -MP \
                 $(if $(SANITIZER),-fsanitize=$(SANITIZER) \
                   -fno-omit-frame-pointer -fno-sanitize-recover=all)
STATS_LDFLAGS += -pthread $(if $(SANITIZER),-fsanitize=$(SANITIZER))
STATS_LIBS    := -lmicrohttpd -ljansson -lmariadb

STATS_COMMON  := stats_date stats_params stats_log stats_pool stats_query \
                 stats_http stats_cache stats_metrics
STATS_OBJS    := $(STATS_COMMON:%=$(STATS_BUILD)/%.o)
STATS_BIN     := $(STATS_BUILD)/track-stats
STATS_TEST    := $(STATS_BUILD)/stats_test
STATS_COUNTS  := $(or $(BUILD),$(STATS_BUILD))

.PHONY: stats stats-test stats-asan stats-clean stats-unit stats-integration

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
	$(MAKE) -f $(STATS_DIR)/stats.mk SANITIZER=address,undefined stats \
	    stats-test

stats-clean:
	rm -rf $(STATS_DIR)/build/stats $(STATS_DIR)/build/stats-*

# For consumer/Makefile's counting: "passed failed" in a counts file, and
# never a failing recipe (that would skip the consumer's own tests).
stats-unit: $(STATS_TEST)
	@mkdir -p $(STATS_COUNTS)
	@$(STATS_TEST) | tee $(STATS_BUILD)/unit.log | tail -n 1; \
	  awk '/^[0-9]+ passed, [0-9]+ failed$$/ { p = $$1; f = $$3; n++ } \
	       END { print (n ? p " " f : "0 1") }' $(STATS_BUILD)/unit.log \
	  >$(STATS_COUNTS)/stats-unit.counts

stats-integration: $(STATS_BIN)
	@mkdir -p $(STATS_COUNTS)
	@STATS_BIN=$(abspath $(STATS_BIN)) perl \
	  $(STATS_DIR)/../t/integration/stats-api.t >$(STATS_BUILD)/api.log 2>&1; \
	  grep -v '^ok ' $(STATS_BUILD)/api.log | tail -n 20; \
	  awk '/^[0-9]+ passed, [0-9]+ failed$$/ { p = $$1; f = $$3; n++ } \
	       END { print (n ? p " " f : "0 1") }' $(STATS_BUILD)/api.log \
	  >$(STATS_COUNTS)/stats-integration.counts

all: stats
unit: stats-unit
ifneq ($(SANITIZER),)
integration: stats-integration
endif

-include $(wildcard $(STATS_BUILD)/stats_*.d)
