"""The device's Python heap stays at its size (boards/esp32-common/heap.h; docs/memory.md,
"Heap growth"). The gauge is built with the ESP32 port's heap that grows on demand and
with that header; its model of the ESP-IDF heap's largest free block (SC_IDF_FREE_BLOCK)
gives the heap room to grow, and it does not. That the header is what holds it is checked
on the header itself, against the MicroPython source's own default: a second gauge built
without it would take a minute of every make test."""
import os
import re
import subprocess

import pytest

from tools import BIN, ROOT

FROZEN32 = os.path.join(BIN, "micropython-frozen32")
MP_SRC = os.path.join(ROOT, ".venv", "micropython-1.28.0")
HEAP_H = os.path.join(ROOT, "boards", "esp32-common", "heap.h")
IDF_BLOCK = 128 * 1024

FILL = """
import gc, micropython
gc.collect()
micropython.mem_info()
print('mem_free', gc.mem_free())
try:
    big = bytearray(100 * 1024)  # more than the heap holds: the port would add an area
    print('big allocated')
except MemoryError:
    print('big refused')
keep = []
try:
    while True:
        keep.append(bytearray(1024))
except MemoryError:
    pass
print('kept', len(keep))
micropython.mem_info()
"""


def gauge(code, block=None):
    env = dict(os.environ)
    env.pop("SC_IDF_FREE_BLOCK", None)
    if block is not None:
        env["SC_IDF_FREE_BLOCK"] = str(block)
    proc = subprocess.run([FROZEN32, "-X", "heapsize=96k", "-c", code], capture_output=True,
                          text=True, timeout=30, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    gc = [tuple(int(n) for n in m) for m in re.findall(
        r"GC: total: (\d+), used: (\d+), free: (\d+), max new split: (\d+)", proc.stdout)]
    return proc.stdout, gc


def test_the_heap_does_not_grow_into_a_free_idf_block():
    out, gc = gauge(FILL, IDF_BLOCK)
    (total, _, free, split), (total_after, used_after, _, split_after) = gc
    # The split heap is built in and sees the block: gc_try_add_heap would have room.
    assert split == split_after == IDF_BLOCK, out
    assert "mem_free %d" % (free + IDF_BLOCK) in out  # py/modgc.c adds the block
    assert "big refused" in out
    kept = int(re.search(r"kept (\d+)", out).group(1))
    assert total_after == total and kept * 1024 > total - 8 * 1024, out  # full, not grown


def test_without_a_modelled_block_the_heap_figures_are_the_heaps_own():
    out, gc = gauge(FILL)
    (total, _, free, split), _ = gc
    assert split == 0 and "mem_free %d" % free in out and "big refused" in out, out


# The two call sites of MicroPython v1.28.0 as they are spelled: ports/esp32/main.c
# allocates the boot heap, py/gc.c's gc_try_add_heap a new area.
CALLS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "py/mpconfig.h"
#define MICROPY_GC_INITIAL_HEAP_SIZE (96 * 1024)
int main(void) {
    size_t to_alloc = %d;
    void *boot = MP_PLAT_ALLOC_HEAP(MICROPY_GC_INITIAL_HEAP_SIZE);
    void *area = MP_PLAT_ALLOC_HEAP(to_alloc);
    printf("boot %%s, area %%s\n", boot ? "allocated" : "refused", area ? "allocated" : "refused");
    return 0;
}
""" % IDF_BLOCK


def compile_calls(tmp_path, source, header):
    """gcc with the unix port's configuration and the ESP32 port's heap settings."""
    src = tmp_path / "calls.c"
    src.write_text(source)
    cmd = ["gcc", "-DMICROPY_GC_SPLIT_HEAP=1", "-DMICROPY_GC_SPLIT_HEAP_AUTO=1",
           "-I" + MP_SRC, "-I" + os.path.join(MP_SRC, "ports", "unix"),
           "-I" + os.path.join(MP_SRC, "ports", "unix", "variants", "standard"),
           "-o", str(tmp_path / "calls"), str(src)]
    if header:
        cmd[1:1] = ["-include", HEAP_H]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("header,area", [(True, "refused"), (False, "allocated")])
def test_the_header_refuses_a_new_area_and_only_that(tmp_path, header, area):
    """Without the header py/mpconfig.h's default (malloc) applies: the same setting grows."""
    proc = compile_calls(tmp_path, CALLS, header)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(tmp_path / "calls")], capture_output=True, text=True).stdout
    assert out == "boot allocated, area %s\n" % area


@pytest.mark.parametrize("call", ["(to_alloc + 0)", "((to_alloc))", "(size)",
                                  "(MICROPY_GC_INITIAL_HEAP_SIZE * 2)"])
def test_a_call_spelled_otherwise_does_not_compile(tmp_path, call):
    """A later MicroPython's new or changed call site stops the build, never grows the heap."""
    source = CALLS.replace("size_t to_alloc", "size_t size = 1, to_alloc")
    proc = compile_calls(tmp_path, source.replace("(to_alloc)", call), True)
    assert proc.returncode != 0, call


def test_gc_grows_the_heap_only_through_the_call_the_header_refuses():
    with open(os.path.join(MP_SRC, "py", "gc.c")) as f:
        gc_c = f.read()
    assert re.findall(r"MP_PLAT_ALLOC_HEAP\([^)]*\)", gc_c) == ["MP_PLAT_ALLOC_HEAP(to_alloc)"]
    start = gc_c.index("static bool gc_try_add_heap(")
    assert start < gc_c.index("MP_PLAT_ALLOC_HEAP(to_alloc)") < gc_c.index("\n}\n", start)
