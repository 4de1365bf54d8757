"""The ESP32 hardware layer: meter UART, P1 out, Ethernet, clock, watchdog, restart.

Thin on purpose: everything above the UART is the portable core. Board modules
(boards/<name>/board.py) pass their pins here and take the shared settings below.
"""
import asyncio
import binascii
import socket
import time

import machine
import network
from machine import UART, Pin

from net import sntp

HOST = "0.0.0.0"
CONFIG_PATH = "/config.json"
IDENTITY_DIR = "/identity"
NTP_HOST = "pool.ntp.org"
MODBUS_PORT = 502
RAW_PORT = 8088
STATUS_EVERY = 0  # no status lines on the console (mpremote users can ask the API)
_WATCHDOG_MS = 10000  # the housekeeping task feeds it every second
_UART_RXBUF = 4096  # a whole DSMR 5 telegram, in case the loop is busy for a moment


def boot():
    machine.freq(240000000)


class MeterPort:
    """The meter input UART; for P1 boards its TX pin is P1 out (an exact copy)."""

    def __init__(self, uart_id, rx, request=None, p1_out=None, invert=True):
        """invert: P1 is open collector, its logic inverted (SPEC section 2); the TIC
        demodulator's output polarity depends on the board's circuit."""
        self._uart = UART(uart_id)
        self._rx = rx
        self._tx = p1_out
        self._request = request
        self._invert = invert
        self._stream = asyncio.StreamReader(self._uart)  # stays valid across init()

    async def start(self):
        if self._request is not None:
            # High asks the meter to send; released (high impedance) it stops. Never low.
            Pin(self._request, Pin.OUT, value=1)

    def configure(self, setting):
        baud, bits, parity, stop = setting
        kw = {"baudrate": baud, "bits": bits, "parity": parity, "stop": stop, "rx": self._rx,
              "rxbuf": _UART_RXBUF, "invert": UART.INV_RX if self._invert else 0}
        if self._tx is not None:
            kw["tx"] = self._tx
            kw["invert"] |= UART.INV_TX if self._invert else 0
        self._uart.init(**kw)

    async def readinto(self, buf):
        return await self._stream.readinto(buf) or 0

    def p1_out(self, data):
        if self._tx is not None:
            self._uart.write(data)


def ethernet(mdc, mdio, phy_addr, power=None, clock_out=None):
    """LAN8720 over RMII; DHCP starts when the interface is active. clock_out: the GPIO
    that drives the 50 MHz reference clock, when the ESP32 provides it (Olimex)."""
    kw = {"mdc": Pin(mdc), "mdio": Pin(mdio), "phy_type": network.PHY_LAN8720,
          "phy_addr": phy_addr}
    if power is not None:
        kw["power"] = Pin(power)
    if clock_out is not None:
        kw["ref_clk_mode"] = Pin.OUT
        kw["ref_clk"] = Pin(clock_out)
    lan = network.LAN(**kw)
    lan.active(True)
    return lan


def default_serial():
    """The base MAC as 12 hex digits (SPEC section 10), for a device never provisioned."""
    return binascii.hexlify(machine.unique_id()).decode().upper()


async def network_time():
    try:
        # lwIP resolves names in a blocking call (bounded by its DNS timeout); the
        # query itself waits without blocking.
        addr = socket.getaddrinfo(NTP_HOST, 123)[0][-1]
    except OSError:
        return None
    return await sntp.query(addr)


def set_clock(epoch):
    """The RTC is what mbedtls checks certificate validity against."""
    tm = time.gmtime(epoch)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))


def reset():
    machine.reset()


def watchdog():
    return machine.WDT(timeout=_WATCHDOG_MS)


def fatal():
    time.sleep(2)  # let the console show why
    machine.reset()
