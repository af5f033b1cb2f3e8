# ngx_kraken: build, run and test against Debian's nginx.

SHELL     := /bin/bash
BUILD     ?= $(CURDIR)/build
NGX_SRC   := /usr/share/nginx/src
MODULE    := $(BUILD)/ngx_kraken_module.so
RUN       := $(BUILD)/run
SRCS      := $(wildcard src/*.c src/*.h) config
CORE_SRCS := $(filter-out src/ngx_%.c,$(wildcard src/*.c))
CFLAGS    ?= -O2 -g
CORE_CFLAGS = $(CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter \
              -Isrc -I/usr/include/cjson
CORE_LIBS  = -lsrtp2 -lssl -lcrypto -lcjson -lnice

.PHONY: all deps deps-test module run test unit prove bench fuzz clean

all: module

deps:
	@./tools/deps.sh build

deps-test:
	@./tools/deps.sh test

module: deps $(MODULE)

$(BUILD)/objs/Makefile: config
	rm -rf $(BUILD)/nginx-src && mkdir -p $(BUILD)
	cp -a $(NGX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --builddir=$(BUILD)/objs >$(BUILD)/configure.log 2>&1 \
	    || { tail -30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/objs/Makefile $(SRCS)
	cd $(BUILD)/nginx-src && $(MAKE) -s -f $(BUILD)/objs/Makefile modules
	cp $(BUILD)/objs/ngx_http_kraken_module.so $@

# make run: the example config on a private prefix, in the foreground.
run: module
	mkdir -p $(RUN)/logs $(RUN)/modules $(RUN)/conf $(RUN)/tmp
	ln -sf $(MODULE) $(RUN)/modules/ngx_kraken_module.so
	rm -rf $(RUN)/html && cp -a conf/html $(RUN)/html
	cp conf/kraken.conf $(RUN)/conf/kraken.conf
	@echo "JSON-RPC and demo page on http://127.0.0.1:7000/ (Ctrl-C stops)"
	exec /usr/sbin/nginx -p $(RUN)/ -e logs/error.log -c conf/kraken.conf \
	    -g 'daemon off;'

# Unit tests of the protocol core, with cmocka.
UNIT_TESTS := $(patsubst test/unit/%.c,$(BUILD)/unit/%,$(wildcard test/unit/test_*.c))

$(BUILD)/unit/%: test/unit/%.c $(CORE_SRCS) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CORE_CFLAGS) -o $@ $< $(CORE_SRCS) $(CORE_LIBS) -lcmocka

unit: deps-test $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "# $$t"; \
	    (cd test/unit && $$t); done

t/js/node_modules: t/js/package.json
	cd t/js && npm install --no-audit --no-fund --loglevel=error
	touch $@

prove: module t/js/node_modules
	KRAKEN_MODULE=$(MODULE) ./tools/netns.sh prove -r t/

test: deps-test module unit prove

bench: deps module
	@./tools/deps.sh bench
	$(MAKE) -C bench run BUILD=$(BUILD)

clean:
	rm -rf $(BUILD)

# Fuzzing the parsers with libFuzzer (clang), FUZZ_TIME seconds each.
FUZZ_TIME ?= 60
FUZZ_CC   := clang -g -O1 -fsanitize=fuzzer,address,undefined \
             -Isrc -I/usr/include/cjson

fuzz: deps
	@./tools/deps.sh fuzz
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) -o $(BUILD)/fuzz/sdp fuzz/fuzz_sdp.c src/kraken_sdp.c \
	    src/kraken_error.c
	$(FUZZ_CC) -o $(BUILD)/fuzz/rpc fuzz/fuzz_rpc.c $(CORE_SRCS) \
	    $(CORE_LIBS)
	cp -r fuzz/corpus $(BUILD)/fuzz/
	$(BUILD)/fuzz/sdp -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    $(BUILD)/fuzz/corpus/sdp
	$(BUILD)/fuzz/rpc -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    $(BUILD)/fuzz/corpus/rpc
