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

.PHONY: setup test build lint bench clean

setup: $(VENV)/.stamp

$(VENV)/.stamp: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
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
