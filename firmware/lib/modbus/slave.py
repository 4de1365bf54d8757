"""The Modbus RTU slave on RS485 (SPEC section 5) of the P1MB / A1MB boards: the same
templates and register image as Modbus TCP, answered by modbus/pdu.py.

A frame is what arrives between two silences of 3.5 character times; a request for this
device whose length its function code gives is answered as soon as it is complete and its
CRC checks (as libmodbus and pymodbus delimit frames), without waiting out the silence.
Frames with a wrong CRC or for another address are ignored (counted), as every slave on
a bus must; a
broadcast (address 0) is applied without an answer. FC06 writes the configuration
register block (modbus/rtuconfig.py); after a write to its reboot register the answer
goes out, then the new settings are saved and the device restarts. The board's port
drives the bus direction around each answer and owns the line settings.
"""
import asyncio

try:
    from micropython import const
except ImportError:
    const = int

from device.leds import BusLeds
from modbus import rtu
from modbus.rtuconfig import ConfigBlock

try:
    _sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython
    def _sleep_ms(ms):
        return asyncio.sleep(ms / 1000)

_LED_MS = const(50)  # how often the LEDs follow their state machine
_BROADCAST = const(0)
MAX_FRAME = const(256)  # address, PDU of at most 253 bytes, CRC
MAX_ANSWER = const(255)  # address, the longest PDU answer (pdu.MAX_ANSWER), CRC


def silence_us(baud, parity):
    """The 3.5 character times of silence that end a frame; 1750 µs above 19200 baud,
    as the Modbus serial line specification fixes it."""
    if baud > 19200:
        return 1750
    return 3500000 * (10 if parity == "N" else 11) // baud  # start, 8 data, parity, stop


def uart_line(baud, parity):
    """(baudrate, bits, parity, stop) as machine.UART.init takes them (parity None, 0
    even, 1 odd): what the ESP32 driver applies, and what the sim reports (a pty refuses
    parity)."""
    return baud, 8, None if parity == "N" else 0 if parity == "E" else 1, 1


class RtuSlave:
    def __init__(self, port, latest, clock, config, restart, leds=None, refused=None):
        """port: the board's RS485 port; config(): the configuration in force;
        restart(changes): save the configuration with these changes, restart the device;
        leds: the board's LED output (show(states)) and refused() the meter's count of
        refused telegrams, for the P1 LED."""
        rs = config()["RS485"]
        self.address = rs["Address"]
        self.baud = rs["Baud"]
        self.parity = rs["Parity"]
        self.block = ConfigBlock(config)
        self._port = port
        self._latest = latest
        self._clock = clock
        self._restart = restart
        self._leds = leds
        self._refused = refused
        self._buf = bytearray(MAX_FRAME)
        self._out = bytearray(MAX_ANSWER)
        self.frames = 0  # every frame seen on the bus
        self.requests = 0  # for this device (broadcasts included)
        self.crc_errors = 0
        self.other = 0  # for other addresses
        self.broadcasts = 0
        self.exceptions = 0
        self.leds = (True, False, False)  # PWR, P1, 485, as last shown

    def status(self):
        return {"address": self.address, "baud": self.baud, "parity": self.parity,
                "uart": list(uart_line(self.baud, self.parity)), "frames": self.frames,
                "requests": self.requests, "crc_errors": self.crc_errors,
                "other_addresses": self.other, "broadcasts": self.broadcasts,
                "exceptions": self.exceptions,
                "leds": {"pwr": self.leds[0], "p1": self.leds[1], "485": self.leds[2]}}

    async def run(self):
        self._port.configure(uart_line(self.baud, self.parity))
        silence = (silence_us(self.baud, self.parity) + 999) // 1000
        tasks = [self._serve(silence)]
        if self._leds is not None:
            tasks.append(self._lights())
        await asyncio.gather(*tasks)

    async def _serve(self, silence_ms):
        port = self._port
        buf = self._buf
        while True:
            n = await port.readinto(buf)
            while not self._complete(buf, n):  # or until 3.5 silent characters
                await _sleep_ms(silence_ms)
                k = port.take(buf, n)
                if not k:
                    break
                n += k
            m = self.handle(buf, n)
            if m:
                await port.write(self._out, m)
            if self.block.reboot:
                self._restart(self.block.changes)
                return

    def _complete(self, buf, n):
        """buf[:n] is a whole request for this device (its length known, its CRC right)."""
        return ((buf[0] == self.address or buf[0] == _BROADCAST) and
                rtu.request_length(buf, 0, n) == n and rtu.crc_ok(buf, 0, n))

    def handle(self, buf, n):
        """The answer to the frame buf[:n] in self._out: its length, 0 for none."""
        self.frames += 1
        if not rtu.crc_ok(buf, 0, n):
            self.crc_errors += 1
            return 0
        addr = buf[0]
        if addr != self.address and addr != _BROADCAST:
            self.other += 1
            return 0
        self.requests += 1
        out = self._out
        m = self.block.answer(buf, 1, out) if n == 8 else 0
        if m:
            out[0] = addr
            m = rtu.seal(out, 1 + m)
        else:
            latest = self._latest
            m = rtu.answer(buf, 0, n, latest.image, latest.fresh(self._clock()), out,
                           self.block.write)
        if out[1] & 0x80:
            self.exceptions += 1
        if addr == _BROADCAST:
            self.broadcasts += 1
            return 0
        return m

    async def _lights(self):
        state = BusLeds()
        latest = self._latest
        shown = None
        while True:
            now = self._clock()
            self.leds = state.update(now, latest.fresh(now), self._refused(), self.requests)
            if self.leds != shown:  # the pins only when a LED changes: most ticks none does
                shown = self.leds
                self._leds.show(shown)
            await _sleep_ms(_LED_MS)
