# Veil — build, run and test. `make run` and `make test` are the two set-up
# commands of the README: both install missing Debian packages when run as root.

SWIFT        ?= swift
PYTHON       ?= python3
CONFIG       ?= config/dev.toml
PREFIX       ?= /usr/local
DEB_PACKAGES := libsystemd-dev libcrypt-dev libunbound-dev libsqlite3-dev pkg-config openssl swaks postfix unbound
DEBUG_BIN    := .build/debug/veil

FUZZ_SECONDS ?= 60
FUZZ_BUILD   := $(SWIFT) build --scratch-path .build-fuzz --sanitize=fuzzer \
                -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING

.PHONY: all deps build release run test unit-test e2e-test dev-setup fuzz bench clean

all: build

## deps: install the Debian packages Veil needs to build and test (as root),
## or print the apt-get line to run.
deps:
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
	@$(PYTHON) -c 'import pytest' 2>/dev/null || $(PYTHON) -m pip install -q pytest

build: deps
	$(SWIFT) build --product veil

release: deps
	$(SWIFT) build -c release --product veil

## dev-setup: the self-signed certificate and the demo user (demo/demo) that
## config/dev.toml points at, made once under ./var.
dev-setup:
	@mkdir -p var/tls
	@[ -f var/tls/cert.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
	  -subj /CN=veil.localhost -keyout var/tls/key.pem -out var/tls/cert.pem 2>/dev/null
	@[ -f var/users ] || echo "demo:$$(openssl passwd -6 demo)" > var/users
	@chmod 600 var/tls/key.pem var/users

run: build dev-setup
	$(DEBUG_BIN) serve --config $(CONFIG)

test: deps
	$(SWIFT) build --build-tests
	$(MAKE) unit-test e2e-test

unit-test:
	$(SWIFT) test --skip-build
	.build/debug/RewriterFuzzer Tests/Fuzz/RewriterFuzzer/corpus

e2e-test:
	VEIL_BIN=$(CURDIR)/$(DEBUG_BIN) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e

## fuzz: libFuzzer on the header rewriter for FUZZ_SECONDS (new inputs go to
## .build-fuzz/corpus; the committed seeds stay as they are).
fuzz: deps
	$(FUZZ_BUILD) --product RewriterFuzzer
	mkdir -p .build-fuzz/corpus/RewriterFuzzer
	SWIFT_BACKTRACE=enable=no .build-fuzz/debug/RewriterFuzzer -max_total_time=$(FUZZ_SECONDS) \
	  -print_final_stats=1 .build-fuzz/corpus/RewriterFuzzer Tests/Fuzz/RewriterFuzzer/corpus

## bench: throughput figures (release build); not a test: the rewriter alone, then
## the whole relay between smtp-source and smtp-sink.
bench: deps
	$(SWIFT) build -c release --product veil-bench
	$(SWIFT) build -c release --product veil
	.build/release/veil-bench
	$(PYTHON) Benchmarks/relay_bench.py

clean:
	rm -rf var
