# Veil — build, run and test. `make run` and `make test` are the two set-up
# commands of the README: both install missing Debian packages when run as root.

SWIFT        ?= swift
PYTHON       ?= python3
CONFIG       ?= config/dev.toml
PREFIX       ?= /usr/local
INSTALL_BIN  ?= .build/release/veil
UNIT_DIR     := /etc/systemd/system
CONF_DIR     := /etc/veil
BUILD_PACKAGES := libsystemd-dev libcrypt-dev libunbound-dev libidn2-dev libsqlite3-dev zlib1g-dev pkg-config
# The DNSSEC root trust anchor ([dns] trust_anchor_file) for DANE.
RUN_PACKAGES   := dns-root-data
TEST_PACKAGES  := openssl swaks postfix unbound ldnsutils unbound-host python3-jsonschema
DEBUG_BIN    := .build/debug/veil

FUZZ_SECONDS ?= 60
FUZZERS      := CommandFuzzer DataReaderFuzzer SessionFuzzer RewriterFuzzer TOMLFuzzer DKIMFuzzer TLSPolicyFuzzer
FUZZ_CONFIG  ?= debug
FUZZ_BUILD   := $(SWIFT) build -c $(FUZZ_CONFIG) --scratch-path .build-fuzz --sanitize=fuzzer \
                -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING

.PHONY: all deps build-deps build release run test unit-test e2e-test dev-setup fuzz bench bench-long bench-profile \
        bench-build install uninstall clean

all: build

## deps: install the Debian packages Veil needs to build and test (as root),
## or print the apt-get line to run. build-deps: only those to build it.
deps: DEB_PACKAGES = $(BUILD_PACKAGES) $(RUN_PACKAGES) $(TEST_PACKAGES)
build-deps: DEB_PACKAGES = $(BUILD_PACKAGES) $(RUN_PACKAGES)
deps build-deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@if [ "$@" = deps ]; then \
	  $(PYTHON) -c 'import pytest' 2>/dev/null || $(PYTHON) -m pip install -q pytest; \
	  $(PYTHON) -c 'import idna' 2>/dev/null || $(PYTHON) -m pip install -q idna; \
	  $(PYTHON) -c 'import dkim' 2>/dev/null || $(PYTHON) -m pip install -q dkimpy; \
	  $(PYTHON) -c 'import nacl' 2>/dev/null || $(PYTHON) -m pip install -q pynacl; \
	  $(PYTHON) -c 'import cryptography' 2>/dev/null || $(PYTHON) -m pip install -q cryptography; \
	fi

build: deps
	$(SWIFT) build --product veil

release: build-deps
	$(SWIFT) build -c release --product veil

## dev-setup: the self-signed certificate and the demo user (demo/demo) that
## config/dev.toml points at, made once under ./var.
dev-setup:
	@mkdir -p var/tls
	@[ -f var/tls/cert.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
	  -subj /CN=veil.localhost -keyout var/tls/key.pem -out var/tls/cert.pem 2>/dev/null
	@[ -f var/users ] || echo "demo:$$(openssl passwd -6 demo)" > var/users
	@chmod 600 var/tls/key.pem var/users

## run: VEIL_ALLOW_ROOT=1 because `make run` may be run as root (the README's
## fresh machine); `veil serve` refuses root otherwise (docs/admin-guide.md §5).
run: build dev-setup
	VEIL_ALLOW_ROOT=1 $(DEBUG_BIN) serve --config $(CONFIG)

test: deps
	$(SWIFT) build --build-tests
	$(MAKE) unit-test e2e-test
	$(MAKE) fuzz FUZZ_SECONDS=10

## unit-test: Swift Testing, then each fuzz target replays its seed corpus.
unit-test:
	$(SWIFT) test --skip-build
	for f in $(FUZZERS); do .build/debug/$$f Tests/Fuzz/$$f/corpus || exit 1; done

e2e-test:
	VEIL_BIN=$(CURDIR)/$(DEBUG_BIN) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e

## fuzz: each libFuzzer target (command/reply parser, DATA/BDAT reader, server
## session, header rewriter, TOML configuration reader, DKIM canonicalization and
## signing, TLSA/MTA-STS/TLSRPT records and MTA-STS policies) for FUZZ_SECONDS, with
## AddressSanitizer. New inputs go to .build-fuzz/corpus; the committed seeds
## (Tests/Fuzz) stay as they are; a crash leaves crash-* in the current folder.
## FUZZ_CONFIG=release for long runs.
fuzz: build-deps
	for f in $(FUZZERS); do $(FUZZ_BUILD) --product $$f || exit 1; done
	for f in $(FUZZERS); do \
	  mkdir -p .build-fuzz/corpus/$$f && \
	  SWIFT_BACKTRACE=enable=no .build-fuzz/$(FUZZ_CONFIG)/$$f -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 .build-fuzz/corpus/$$f Tests/Fuzz/$$f/corpus || exit 1; \
	done

## bench: throughput figures (release build); not a test: the rewriter alone
## (veil-bench), then Benchmarks/relay_bench.py: Veil, Veil with DKIM and a private
## Postfix (the same header removal), each fed by `veil-bench load` (20 clients,
## Exchange-style 10 KB messages, PIPELINING and BDAT) at 1 and at 20 messages per
## connection and passing them on to smtp-sink, next to the load straight into
## smtp-sink; then a 50 MB message; msg/s, CPU, context switches, fsyncs, accept
## latency and peak RSS per run, checked against the targets of issue 17. Needs
## root, perf (for the switch and fsync counts) and the postfix package;
## BENCH_MESSAGES=n (default 20000), BENCH_TMPDIR=dir (default /var/tmp).
## bench-long: BENCH_LONG=n messages (default 500000) through Veil alone, its memory
## and spool disk use printed every BENCH_LONG_STEP (default 50000) messages.
## bench-profile: Veil alone at 20 messages per connection under perf record -g;
## the report to BENCH_PROFILE (default Benchmarks/profiles/veil-COMMIT.txt).
BENCH_PROFILE ?= Benchmarks/profiles/veil-$(shell git rev-parse --short HEAD 2>/dev/null || echo tree).txt

bench: deps bench-build
	.build/release/veil-bench
	$(PYTHON) Benchmarks/relay_bench.py

bench-long: deps bench-build
	$(PYTHON) Benchmarks/bench_long.py

bench-profile: deps bench-build
	mkdir -p $(dir $(BENCH_PROFILE))
	BENCH_PROFILE=$(BENCH_PROFILE) $(PYTHON) Benchmarks/relay_bench.py

bench-build:
	$(SWIFT) build -c release --product veil-bench
	$(SWIFT) build -c release --product veil

## install: the release build, then the binary to $(DESTDIR)$(PREFIX)/bin/veil,
## systemd/veil.service and veil.socket to $(DESTDIR)$(UNIT_DIR) (ExecStart
## pointed at $(PREFIX)/bin/veil), config/veil.toml to $(DESTDIR)$(CONF_DIR)
## unless one is there, and, without DESTDIR, the `veil` system user. With
## INSTALL_BIN=path that binary is installed and nothing is built, e.g. `make
## release`, then `sudo make install INSTALL_BIN=.build/release/veil` (no build as root).
install:
ifeq ($(origin INSTALL_BIN),file)
	$(SWIFT) build -c release --product veil
endif
	@if [ -z "$(DESTDIR)" ] && ! getent passwd veil >/dev/null; then \
	  if getent group veil >/dev/null; then group="--gid veil"; else group="--user-group"; fi; \
	  echo "useradd --system $$group --home-dir /var/lib/veil --shell /usr/sbin/nologin veil"; \
	  useradd --system $$group --home-dir /var/lib/veil --shell /usr/sbin/nologin veil; \
	fi
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNIT_DIR)
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/veil
	for unit in veil.service veil.socket; do \
	  sed 's|/usr/local/bin/veil|$(PREFIX)/bin/veil|g' systemd/$$unit > $(DESTDIR)$(UNIT_DIR)/$$unit && \
	  chmod 0644 $(DESTDIR)$(UNIT_DIR)/$$unit || exit 1; \
	done
	@if [ -e $(DESTDIR)$(CONF_DIR)/veil.toml ]; then \
	  echo "$(DESTDIR)$(CONF_DIR)/veil.toml exists: left as it is (new example: config/veil.toml)"; \
	else \
	  echo "install -m 0640 config/veil.toml $(DESTDIR)$(CONF_DIR)/veil.toml"; \
	  install -d -m 0755 $(DESTDIR)$(CONF_DIR) && \
	  install -m 0640 config/veil.toml $(DESTDIR)$(CONF_DIR)/veil.toml && \
	  if getent group veil >/dev/null; then chgrp veil $(DESTDIR)$(CONF_DIR)/veil.toml; fi; \
	fi
	@echo
	@echo "Next steps:"
	@echo "  1. $(CONF_DIR)/veil.toml: hostname, listeners, [delivery]; spool_dir must be /var/lib/veil"
	@echo "     (the unit's StateDirectory: everything else is read-only for the service)."
	@echo "  2. Users file, readable by the veil group only, one user:HASH line per user:"
	@echo '       install -m 0640 -g veil /dev/null $(CONF_DIR)/users'
	@echo '       echo "exchange:$$($(PREFIX)/bin/veil passwd)" >> $(CONF_DIR)/users'
	@echo "  3. TLS certificate chain and key as [tls] names them ($(CONF_DIR)/tls/fullchain.pem and"
	@echo "     privkey.pem), readable by the veil group: chgrp veil <key> && chmod 0640 <key>."
	@echo "  4. $(PREFIX)/bin/veil check-config --config $(CONF_DIR)/veil.toml"
	@echo "  5. systemctl daemon-reload && systemctl enable --now veil"
	@echo "     (optional socket activation: systemctl enable --now veil.socket; see $(UNIT_DIR)/veil.socket)"

## uninstall: stop and disable the service, remove the binary and the units.
## Kept: $(CONF_DIR) (configuration, users, certificates), /var/lib/veil (the
## queue, maybe with undelivered mail, and scrub.key) and the veil user.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	  echo "systemctl disable --now veil.socket veil.service"; \
	  systemctl disable --now veil.socket veil.service || true; \
	fi
	rm -f $(DESTDIR)$(PREFIX)/bin/veil $(DESTDIR)$(UNIT_DIR)/veil.service $(DESTDIR)$(UNIT_DIR)/veil.socket
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "Kept: $(CONF_DIR) (configuration, users, certificates), /var/lib/veil (queue: check for"
	@echo "undelivered mail first) and the veil user; remove them by hand when no longer needed."

clean:
	rm -rf var
