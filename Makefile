# sunspec-gateway: the two commands of the quick start are `make demo` and `make test`.
SWIFT ?= swift
VENV ?= .venv
PYTHON := $(VENV)/bin/python
GATEWAY_DEBUG := .build/debug/sunspec-gateway
GATEWAY_RELEASE := .build/release/sunspec-gateway
APT_PACKAGES := libmodbus-dev pkg-config socat mbpoll prometheus systemd libmosquitto-dev mosquitto iproute2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build release demo test unit interop lint deps venv bench fuzz models clean

all: build

## Install what is missing: the Debian packages (libmodbus-dev, socat, mbpoll; prometheus for the metrics
## interop suite, systemd for systemd-analyze verify of the unit; libmosquitto-dev and mosquitto for MQTT;
## iproute2: ss, for the broker-stalled case).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## The Python venv of the interop suites (pysunspec2, pymodbus).
venv: $(VENV)/.done
$(VENV)/.done: Tests/Interop/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r Tests/Interop/requirements.txt
	touch $@

build: deps
	$(SWIFT) build

# The release binary links the Swift runtime statically: copied alone to another Linux machine, it runs.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

## The main job on an embedded default: a simulated battery system polled through libmodbus, its
## stream served on a Unix socket and mirrored here, for 10 seconds.
demo: build
	$(GATEWAY_DEBUG) demo --duration 10s

## Every test: Swift unit and CLI tests, then the interop suite against pysunspec2.
test: deps venv
	$(SWIFT) build
	$(MAKE) lint
	$(SWIFT) test
	$(MAKE) interop

## swift-format, as .swift-format says (generated files aside).
lint:
	$(SWIFT) format lint --strict $$(find Sources Tests -name '*.swift' ! -name BuiltinModels.swift ! -name DemoCaptures.swift)

unit: deps
	$(SWIFT) test

interop: venv
	$(PYTHON) Tests/Interop/decode_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/formats_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/live_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/bridge_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/rogue_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/metrics_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/mqtt_interop.py --gateway $(GATEWAY_DEBUG)
	$(PYTHON) Tests/Interop/control_interop.py --gateway $(GATEWAY_DEBUG)

## Benchmarks beside pysunspec2 (a benchmark, not a timed test).
bench: release venv
	$(SWIFT) build -c release --static-swift-stdlib --product sunspec-bench
	bench/run.sh $(PYTHON)

## libFuzzer targets over the decoder and each capture reader.
fuzz:
	fuzz/run.sh

## Regenerate the built-in model definitions from the installed pysunspec2.
models: venv
	$(PYTHON) scripts/import_models.py

clean:
	rm -rf .build $(VENV)
