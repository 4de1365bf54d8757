// The device gauge's stand-in for the ESP-IDF heap beside the Python heap (make frozen32).
// On the ESP32, gc_get_max_new_split() is the IDF heap's largest free block
// (ports/esp32/gccollect.c): the most py/gc.c may take to grow the Python heap, and what
// gc.mem_free() adds to the Python heap's own free bytes (py/modgc.c). Here it is
// SC_IDF_FREE_BLOCK bytes, read once: 0 by default, so that the status's heap figures stay
// the Python heap's own; a test sets it to show that the heap does not grow into it all the
// same (boards/esp32-common/heap.h).
#include <stdlib.h>

#include "py/mpconfig.h"
#include "py/gc.h"

size_t gc_get_max_new_split(void) {
    static long block = -1;
    if (block < 0) {
        const char *s = getenv("SC_IDF_FREE_BLOCK");
        block = s ? strtol(s, NULL, 0) : 0;
        if (block < 0) {
            block = 0;
        }
    }
    return (size_t)block;
}
