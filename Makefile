# apiward: the README's commands. Each installs the Debian packages it
# needs first (scripts/deps.sh), then builds with Meson and Ninja.

BUILD      ?= build
SAN_BUILD  ?= build-san
FUZZ_BUILD ?= build-fuzz
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 5

BUILD_PKGS = gcc pkg-config meson ninja-build libfyaml-dev libssl-dev \
             libpcre2-dev libmaxminddb-dev libhiredis-dev \
             libcurl4-openssl-dev libvectorscan-dev
TEST_PKGS  = $(BUILD_PKGS) clang libclang-rt-14-dev libcmocka-dev \
             python3 python3-pytest python3-requests python3-yaml \
             python3-jwt python3-cryptography redis-server prometheus \
             rsyslog rsyslog-openssl
BENCH_PKGS = $(BUILD_PKGS) wrk nginx-light haproxy curl python3-jwt \
             libnginx-mod-http-modsecurity modsecurity-crs \
             python3-cryptography libjansson-dev libjson-c-dev libcjson-dev

.PHONY: all build run test unit san integration fuzz fuzz-smoke bench \
        deps-build deps-test deps-bench clean

all: build

deps-build:
	@scripts/deps.sh $(BUILD_PKGS)

deps-test:
	@scripts/deps.sh $(TEST_PKGS)

deps-bench:
	@scripts/deps.sh $(BENCH_PKGS)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps-build $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The quickstart: the demo API on 127.0.0.1:9000 behind apiward on :8080.
# Git does not keep file modes: the demo pepper is made private first,
# as apiward expects of a pepper.
run: build
	@chmod 600 examples/demo-pepper
	@$(PYTHON) examples/demo_api.py 9000 & demo=$$!; \
	trap 'kill $$demo 2>/dev/null' EXIT INT TERM; \
	echo "apiward: demo API on 127.0.0.1:9000, gateway on 127.0.0.1:8080"; \
	$(BUILD)/apiward run -c examples/quickstart.yaml

$(SAN_BUILD)/build.ninja:
	meson setup $(SAN_BUILD) -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link

unit: deps-test $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --suite unit --print-errorlogs

san: deps-test $(SAN_BUILD)/build.ninja
	ninja -C $(SAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(SAN_BUILD) --suite unit --print-errorlogs

integration: san
	APIWARD_BIN=$(CURDIR)/$(SAN_BUILD)/apiward \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# Build with clang (warnings are errors there too) and run every fuzz
# target briefly over its seed corpus.
fuzz-smoke: deps-test $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz: FUZZ_SECONDS = 120
fuzz: fuzz-smoke

test: deps-test
	scripts/check-banned.sh
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) fuzz-smoke

bench: deps-bench build
	bench/run

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)
