"""The ESP32 hardware layer: meter UART, P1 out, clock, watchdog, restart, and the halt of
a .mpy development path out of heap (the network interfaces: hw/netif.py; button and LED:
hw/panel.py).

Thin on purpose: everything above the UART is the portable core. Board modules
(boards/<name>/board.py) pass their pins here and take the shared settings below.
"""
import asyncio
import binascii
import sys
import time

import machine
import network
from machine import UART, Pin

from device.wallclock import rtc_datetime

HOST = "0.0.0.0"
CONFIG_PATH = "/config.json"
IDENTITY_DIR = "/identity"
UPDATE_PATH = "/update.json"  # the record an update carries across its reboot
TRIAL_MS = 120000  # a trial boot's deadline (update/trial.py)
SETTLE_MS = 10000
NTP_HOST = "pool.ntp.org"
MODBUS_PORT = 502
RAW_PORT = 8088
HTTP_PORT = 80
HTTPS_PORT = 443
STATUS_EVERY = 0  # no status lines on the console (mpremote users can ask the API)
MDNS = True  # our responder (net/mdns.py); the image's own is off (docs/mdns.md)
# Armed first thing at boot: a boot or an import that fails or hangs ends in a restart,
# never at the REPL. The running firmware then feeds it every second with a 10 s limit.
_BOOT_WATCHDOG_MS = 30000
_WATCHDOG_MS = 10000
# A whole DSMR 5 telegram, in case the loop is busy for a moment; P1 out sends at the
# meter's own speed, so a TX buffer as large never fills and write() never blocks.
_UART_BUF = 4096
_EPOCH_YEAR = time.gmtime(0)[0]  # 2000 on the ESP32
# The .mpy development path (make install): this module is a file, not frozen into the image.
_FROM_FILES = __file__.endswith(".mpy")
# Kept in RTC memory across a reset: the development path ran out of Python heap.
_NO_HEAP = b"smart-connect: no heap"
_NO_HEAP_TEXT = """smart-connect: out of Python heap running the firmware from .mpy files (make
install): this development path needs more heap than this MicroPython image gives (the
bytecode lives in it). Flash the Smart Connect image instead, which keeps the bytecode in
flash: make firmware flash BOARD=<board> PORT=<port> (README). Until make install copies
the firmware again, the board stops at the REPL here, without watchdog."""


def halted():
    """True when the .mpy development path ran out of Python heap at an earlier start
    (fatal() remembered it): restarting would only run out again, so the board stays at
    the REPL, for mpremote. make install clears the mark before its final reset."""
    return _FROM_FILES and machine.RTC().memory() == _NO_HEAP


def boot():
    """The watchdog first; True when the firmware is to start. When halted(), no watchdog
    (one cannot be stopped once armed): the reason, and False."""
    if halted():
        print(_NO_HEAP_TEXT)
        return False
    machine.WDT(timeout=_BOOT_WATCHDOG_MS)
    machine.freq(240000000)
    return True


class MeterPort:
    """The meter input UART; for P1 boards its TX pin is P1 out (an exact copy)."""

    def __init__(self, uart_id, rx, tx, request=None, p1_out=False, invert=True):
        """rx, tx: the UART's pins, given at construction (UART(id) alone claims the
        default pins, which are the flash's on a no-PSRAM ESP32). p1_out: tx drives P1
        out through an open-collector transistor, which inverts, so TX is not inverted.
        invert: P1 is open collector, its logic inverted (RX inverted); the TIC
        demodulator's output polarity depends on the board's circuit."""
        self._uart = UART(uart_id, rx=rx, tx=tx, rxbuf=_UART_BUF, txbuf=_UART_BUF)
        self._p1_out = p1_out
        self._request = request
        self._invert = invert
        self._stream = asyncio.StreamReader(self._uart)  # stays valid across init()

    async def start(self):
        if self._request is not None:
            # High asks the meter to send; released (high impedance) it stops. Never low.
            Pin(self._request, Pin.OUT, value=1)

    def configure(self, setting):
        baud, bits, parity, stop = setting
        self._uart.init(baudrate=baud, bits=bits, parity=parity, stop=stop,
                        invert=UART.INV_RX if self._invert else 0)

    async def readinto(self, buf):
        return await self._stream.readinto(buf) or 0

    def p1_out(self, data):
        if self._p1_out:
            self._uart.write(data)


def default_serial():
    """The base MAC as 12 hex digits (SPEC section 10), for a device never provisioned."""
    return binascii.hexlify(machine.unique_id()).decode().upper()


def dns_server():
    """The DNS server DHCP (or the static configuration) gave, as net.dns takes it."""
    ip = network.ipconfig("dns")
    return None if ip == "0.0.0.0" else (ip, 53)


async def network_time():
    from net import sntp  # imported for the query and let go after it

    return await sntp.network_time(NTP_HOST, 123, dns_server())


def set_clock(epoch):
    """The RTC is what mbedtls checks certificate validity against; it counts from 2000."""
    machine.RTC().datetime(rtc_datetime(epoch, time.gmtime, _EPOCH_YEAR))


def reset():
    machine.reset()


def soft_reset():
    """The firmware starts over; the network interface and its lease stay up."""
    machine.soft_reset()


_CAUSES = {machine.PWRON_RESET: "power-on", machine.HARD_RESET: "hard",
           machine.WDT_RESET: "watchdog", machine.DEEPSLEEP_RESET: "deep sleep",
           machine.SOFT_RESET: "soft"}


def reset_cause():
    return _CAUSES.get(machine.reset_cause(), "unknown")


def partition():
    """The flash's app slots and otadata: set_boot verifies an image's signature with
    the key compiled into the running image (docs/update.md)."""
    import esp32

    return esp32.Partition


def watchdog():
    return machine.WDT(timeout=_WATCHDOG_MS)


def fatal(e):
    """Print, restart. Out of heap on the development path, the next start halts (the
    watchdog armed at this boot still runs: this start has to end in a reset)."""
    sys.print_exception(e)
    if _FROM_FILES and isinstance(e, MemoryError):
        machine.RTC().memory(_NO_HEAP)
        print(_NO_HEAP_TEXT)
    time.sleep(2)  # let the console show why
    machine.reset()
