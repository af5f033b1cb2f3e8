# ngx_kraken: build, run and test against Debian's nginx.

SHELL     := /bin/bash

# SANITIZE=1: the module and the unit tests built with ASan and UBSan, in a
# build directory of their own (build-san unless BUILD says otherwise).
SANITIZE  ?=
ifeq ($(SANITIZE),1)
BUILD     ?= $(CURDIR)/build-san
# UBSan's runtime reads UBSAN_OPTIONS at its first report, when nginx has
# overwritten its environment with the process title: so no recovery, the
# first report stops the process (it goes to stderr, nginx's error log)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
# unit tests: leaks count too; test/lsan.supp holds third-party ones only
UNIT_ENV  := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
             LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp \
             UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# nginx is not instrumented: t/lib/KrakenTest.pm preloads the runtime
PROVE_ENV  = KRAKEN_SANITIZE=1 \
             KRAKEN_ASAN_RT=$$($(CC) -print-file-name=libasan.so)
endif

BUILD     ?= $(CURDIR)/build
NGX_SRC   := /usr/share/nginx/src
MODULE    := $(BUILD)/ngx_kraken_module.so
RUN       := $(BUILD)/run
# one rule with config: the protocol core is src/kraken_*.c, the nginx
# glue src/ngx_*.c
CORE_SRCS := $(wildcard src/kraken_*.c)
GLUE_SRCS := $(wildcard src/ngx_*.c)
SRCS      := $(CORE_SRCS) $(GLUE_SRCS) $(wildcard src/*.h) config
CFLAGS    ?= -O2 -g
CORE_CFLAGS = $(CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter \
              $(SAN_FLAGS) -Isrc -I/usr/include/cjson
CORE_LIBS  = -lsrtp2 -lssl -lcrypto -lcjson -lnice -lbpf

.PHONY: all deps deps-test module run test test-sanitize unit prove bench \
        fuzz clean FORCE

all: module

deps:
	@./tools/deps.sh build

deps-test:
	@./tools/deps.sh test

module: deps $(MODULE)

# a build directory is built anew when its flags (SANITIZE, CFLAGS) or its
# source tree change
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CURDIR) $(CORE_CFLAGS)' | cmp -s - $@ \
	    || echo '$(CURDIR) $(CORE_CFLAGS)' >$@

# config globs the sources: a file added or removed configures anew
$(BUILD)/srcs: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CORE_SRCS) $(GLUE_SRCS)' | cmp -s - $@ \
	    || echo '$(CORE_SRCS) $(GLUE_SRCS)' >$@

$(BUILD)/objs/Makefile: config $(BUILD)/flags $(BUILD)/srcs
	rm -rf $(BUILD)/nginx-src && mkdir -p $(BUILD)
	cp -a $(NGX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS) $(SAN_FLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC $(SAN_FLAGS)" \
	    "$${NGX_CONF_FLAGS[@]}" --with-stream --add-dynamic-module=$(CURDIR) \
	    --builddir=$(BUILD)/objs >$(BUILD)/configure.log 2>&1 \
	    || { tail -30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/objs/Makefile $(SRCS)
	cd $(BUILD)/nginx-src && $(MAKE) -s -f $(BUILD)/objs/Makefile modules
	cp $(BUILD)/objs/ngx_kraken_module.so $@

# make run: the example config on a private prefix, in the foreground.
run: module
	mkdir -p $(RUN)/logs $(RUN)/modules $(RUN)/conf $(RUN)/tmp
	ln -sf $(MODULE) $(RUN)/modules/ngx_kraken_module.so
	ln -sf /usr/lib/nginx/modules/ngx_stream_module.so \
	    $(RUN)/modules/ngx_stream_module.so
	rm -rf $(RUN)/html && cp -a conf/html $(RUN)/html
	cp conf/kraken.conf $(RUN)/conf/kraken.conf
	@echo "JSON-RPC and demo page on http://127.0.0.1:7000/ (Ctrl-C stops)"
	exec /usr/sbin/nginx -p $(RUN)/ -e logs/error.log -c conf/kraken.conf \
	    -g 'daemon off;'

# Unit tests of the protocol core, with cmocka.
UNIT_TESTS := $(patsubst test/unit/%.c,$(BUILD)/unit/%,$(wildcard test/unit/test_*.c))

$(BUILD)/unit/%: test/unit/%.c test/sim/sim.c test/sim/sim.h $(CORE_SRCS) \
                 $(wildcard src/*.h) $(BUILD)/flags
	@mkdir -p $(BUILD)/unit
	$(CC) $(CORE_CFLAGS) -Itest/sim -o $@ $< test/sim/sim.c $(CORE_SRCS) \
	    $(CORE_LIBS) -lcmocka

unit: deps-test $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "# $$t"; \
	    (cd test/unit && $(UNIT_ENV) $$t); done

t/js/node_modules: t/js/package.json
	cd t/js && npm install --no-audit --no-fund --loglevel=error
	touch $@

# T: the test files or directories prove runs
T ?= t/

prove: module t/js/node_modules
	KRAKEN_MODULE=$(MODULE) $(PROVE_ENV) ./tools/netns.sh prove -r $(T)

test: deps-test module unit prove

# CI: the unit tests and the tests that feed nginx hostile input, again
# with the sanitizers, in $(BUILD)-san.
SANITIZE_T := t/001-build.t t/002-rpc-params.t t/003-rpc-envelope.t \
              t/024-attacks.t t/029-media-port.t t/033-forward-stopped-owner.t \
              t/036-one-port-handoff.t t/037-bounds.t t/050-capabilities.t \
              t/047-callback-allow.t t/051-uid-bind.t

test-sanitize:
	@$(MAKE) --no-print-directory SANITIZE=1 \
	    BUILD=$(if $(filter 1,$(SANITIZE)),$(BUILD),$(BUILD)-san) \
	    T="$(SANITIZE_T)" deps-test module unit prove

bench: deps module
	@./tools/deps.sh bench
	$(MAKE) -C bench run BUILD=$(BUILD)

# make deb: the module as a Debian package like Debian's own libnginx-mod-*,
# $(BUILD)/libnginx-mod-kraken_VERSION_ARCH.deb (see pkg/build-deb.sh)
.PHONY: deb

deb: module
	@./tools/deps.sh deb
	./pkg/build-deb.sh $(MODULE) $(BUILD)

clean:
	rm -rf $(BUILD)

# Fuzzing the parsers and the datagram path with libFuzzer (clang),
# FUZZ_TIME seconds each.
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
	$(FUZZ_CC) -Itest/sim -o $(BUILD)/fuzz/datagram fuzz/fuzz_datagram.c \
	    test/sim/sim.c $(CORE_SRCS) $(CORE_LIBS)
	cp -r fuzz/corpus $(BUILD)/fuzz/
	$(BUILD)/fuzz/sdp -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    $(BUILD)/fuzz/corpus/sdp
	$(BUILD)/fuzz/rpc -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    $(BUILD)/fuzz/corpus/rpc
	$(BUILD)/fuzz/datagram -max_total_time=$(FUZZ_TIME) -max_len=16384 \
	    -detect_leaks=0 $(BUILD)/fuzz/corpus/datagram

# make bpf: compiles the steering program (src/bpf/kraken_steer.bpf.c) and
# writes the object, as a C array, into src/kraken_bpf_code.c, which is
# committed: only this target needs clang. The object keeps its BTF but no
# DWARF, and no path of this checkout.
BPF_CC := clang -O2 -g -target bpf -Wall -Wextra -Werror \
          -fdebug-prefix-map=$(CURDIR)=. \
          -I/usr/include/$(shell gcc -print-multiarch 2>/dev/null)

.PHONY: bpf

bpf:
	@./tools/deps.sh bpf
	@mkdir -p $(BUILD)/bpf
	$(BPF_CC) -c src/bpf/kraken_steer.bpf.c -o $(BUILD)/bpf/kraken_steer.o
	llvm-strip -g $(BUILD)/bpf/kraken_steer.o
	@echo 'writing src/kraken_bpf_code.c'
	@{ echo '/*'; \
	  echo ' * Generated by "make bpf" from src/bpf/kraken_steer.bpf.c:'; \
	  echo ' * the compiled BPF object (ELF). Do not edit.'; \
	  echo ' */'; \
	  echo; \
	  echo '#include "kraken_bpf.h"'; \
	  echo; \
	  echo; \
	  echo 'const unsigned char  kraken_bpf_code[] = {'; \
	  od -An -v -tx1 -w12 $(BUILD)/bpf/kraken_steer.o \
	      | awk '{ s = "   "; for (i = 1; i <= NF; i++) s = s " 0x" $$i ",";'\
	' print s }'; \
	  echo '};'; \
	  echo; \
	  echo 'const size_t  kraken_bpf_code_len = sizeof(kraken_bpf_code);'; \
	} >src/kraken_bpf_code.c.tmp
	mv src/kraken_bpf_code.c.tmp src/kraken_bpf_code.c
