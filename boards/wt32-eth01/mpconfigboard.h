#define MICROPY_HW_BOARD_NAME "Smart Connect P1 (WT32-ETH01)"
#define MICROPY_HW_MCU_NAME "ESP32"
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT "smart-connect"
#define MICROPY_PY_BLUETOOTH (0)
// The Python heap, allocated at boot and never grown (docs/memory.md): the firmware runs its
// whole socket budget in it, and the rest of the RAM stays with lwIP, Ethernet, Wi-Fi and
// two TLS sessions.
#define MICROPY_GC_INITIAL_HEAP_SIZE (96 * 1024)
#include "../esp32-common/heap.h"
// Our own mDNS responder (firmware/lib/net/mdns.py) answers on 5353: the IDF mdns component
// that MicroPython starts on a Wi-Fi station's first address would bind it too, and can
// neither probe for a shared name nor publish our service (docs/mdns.md).
#define MICROPY_HW_ENABLE_MDNS_QUERIES (0)
#define MICROPY_HW_ENABLE_MDNS_RESPONDER (0)
