#define MICROPY_HW_BOARD_NAME "P1MB (ESP32-DevKitC + MAX3485)"
#define MICROPY_HW_MCU_NAME "ESP32"
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT "smart-connect"
#define MICROPY_PY_BLUETOOTH (0)
// The Python heap, allocated at boot (docs/memory.md): the firmware runs its whole socket
// budget in it, and the rest of the RAM stays with lwIP, Ethernet and two TLS sessions.
#define MICROPY_GC_INITIAL_HEAP_SIZE (96 * 1024)
