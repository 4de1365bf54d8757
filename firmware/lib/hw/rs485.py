"""The ESP32 side of the P1MB / A1MB class: the RS485 transceiver (a UART and its
driver-enable pin) and the three LEDs. The RTU slave itself is portable
(modbus/slave.py); boards pass their pins here.
"""
import asyncio

from machine import UART, Pin

# Larger than any RTU frame, so a whole answer is queued at once and write() never blocks.
_UART_BUF = 512
# Below this much wire time left the driver pin is released by polling, not by sleeping:
# a sleep on the ESP32 may last a FreeRTOS tick (10 ms) longer than asked.
_TICK_US = 10000


class Rs485Port:
    """A half-duplex transceiver (MAX3485 class) with DE and /RE tied to one pin: low
    listens, high drives the bus, only while an answer goes out."""

    def __init__(self, uart_id, rx, tx, de):
        # Pins at construction: UART(id) alone claims the flash's pins on a no-PSRAM ESP32.
        self._uart = UART(uart_id, rx=rx, tx=tx, rxbuf=_UART_BUF, txbuf=_UART_BUF)
        self._de = Pin(de, Pin.OUT, value=0)
        self._stream = asyncio.StreamReader(self._uart)
        self._us_per_char = 1146  # 8E1 at 9600 baud until configure()

    def configure(self, line):
        """line: (baudrate, bits, parity, stop), from modbus.slave.uart_line."""
        baud, bits, parity, stop = line
        self._uart.init(baudrate=baud, bits=bits, parity=parity, stop=stop, timeout=0)
        self._us_per_char = (bits + 2 + (parity is not None)) * 1000000 // baud

    async def readinto(self, buf):
        """Waits for the first bytes of a frame; returns how many it put in buf."""
        while True:
            n = await self._stream.readinto(buf)
            if n is not None:  # None: woken with nothing to read after all (tcp._receive)
                return n

    def take(self, buf, n):
        """The bytes that arrived meanwhile, into buf[n:], without waiting."""
        if n >= len(buf) or not self._uart.any():
            return 0
        return self._uart.readinto(memoryview(buf)[n:]) or 0

    async def write(self, buf, n):
        """Drive the bus, send buf[:n], release the bus once the last stop bit is out."""
        self._de.value(1)
        self._uart.write(memoryview(buf)[:n])
        wire_us = n * self._us_per_char
        if wire_us > 2 * _TICK_US:
            await asyncio.sleep_ms((wire_us - _TICK_US) // 1000)
        while not self._uart.txdone():
            pass  # at most a tick's worth of characters
        self._de.value(0)


class Leds:
    """LEDs on GPIOs, each lit by a high level."""

    def __init__(self, pins):
        self._pins = [Pin(p, Pin.OUT, value=0) for p in pins]

    def show(self, states):
        for pin, on in zip(self._pins, states):
            pin.value(1 if on else 0)
