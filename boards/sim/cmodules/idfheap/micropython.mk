# The device gauge's model of the ESP-IDF heap (make frozen32): idfheap.c.
SRC_USERMOD_LIB_C += $(USERMOD_DIR)/idfheap.c
