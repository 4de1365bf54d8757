// The Python heap of every Smart Connect ESP32 image stays at the size it is given at boot
// (MICROPY_GC_INITIAL_HEAP_SIZE): each board's mpconfigboard.h includes this, and make
// frozen32 builds the device gauge with it (docs/memory.md, "Heap growth").
//
// MicroPython 1.28's ESP32 port always grows its heap on demand (MICROPY_GC_SPLIT_HEAP_AUTO
// in ports/esp32/mpconfigport.h): when a collection frees too little, py/gc.c takes a new
// area from the ESP-IDF heap, the RAM that Wi-Fi, Ethernet, lwIP and TLS are budgeted, and
// keeps it while anything lives in it. The port leaves MP_PLAT_ALLOC_HEAP to py/mpconfig.h's
// default (malloc); defined here first, it tells its two call sites apart by the argument's
// spelling (## pastes the argument unexpanded):
//   ports/esp32/main.c  MP_PLAT_ALLOC_HEAP(MICROPY_GC_INITIAL_HEAP_SIZE)  the boot heap: malloc
//   py/gc.c             MP_PLAT_ALLOC_HEAP(to_alloc)  a new area: NULL, which gc_try_add_heap
//                       takes as no room, so the allocation raises MemoryError
// Any other argument (a later MicroPython's) leaves a name that is not a macro call, or no
// token at all, and fails to compile instead of growing the heap unnoticed.
#ifndef SMART_CONNECT_HEAP_H
#define SMART_CONNECT_HEAP_H

#define MP_PLAT_ALLOC_HEAP(size) MP_PLAT_ALLOC_HEAP_##size()
#define MP_PLAT_ALLOC_HEAP_MICROPY_GC_INITIAL_HEAP_SIZE() malloc(MICROPY_GC_INITIAL_HEAP_SIZE)
#define MP_PLAT_ALLOC_HEAP_to_alloc() NULL
// Its pair, py/mpconfig.h's default in GCC's spelling, which needs no <stdlib.h>: the unix
// port's py/gc.c (the gauge) has none (the ESP32 port's headers bring it).
#define MP_PLAT_FREE_HEAP(ptr) __builtin_free(ptr)

#endif
