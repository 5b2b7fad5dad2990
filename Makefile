# SPDX-License-Identifier: BSD-2-Clause
# Top-level build, run and test entry points (see README.md).

BUILD      := build
MODULE_SO  := $(BUILD)/nginx/ngx_http_track_module.so
MODULE_SRC := config $(wildcard ngx_http_track_module/*.[ch])

.PHONY: all deps module consumer run stop test bench fuzz deb clean

all: module consumer

deps:
	@scripts/deps.sh

module: deps $(MODULE_SO)

$(MODULE_SO): $(MODULE_SRC)
	scripts/build-module.sh $(BUILD)/nginx

consumer: deps
	@if [ -f consumer/Makefile ]; then $(MAKE) -C consumer; fi

run: module consumer
	scripts/run.sh start

stop:
	scripts/run.sh stop

test: module consumer
	t/harness.sh

# benchmarks against the empty_gif ceiling and the peers (bench/README.md);
# about 10 minutes, not part of `make test`
bench: module consumer
	@scripts/deps.sh bench
	bench/run.sh

# Debian packages in build/deb/ (debian/, debian/README.md), lintian-clean
deb: deps
	scripts/build-deb.sh $(BUILD)/deb

# libFuzzer + ASan + UBSan targets in fuzz/, FUZZ_SECONDS each (fuzz/Makefile)
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) t/servroot* t/tmp
	@if [ -f consumer/Makefile ]; then $(MAKE) -C consumer clean; fi
