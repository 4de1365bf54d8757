"""The sim's RS485 port (tools/sim.py --rs485 PATH): the serial device PATH stands in for
the transceiver of a P1MB / A1MB board. Loaded only with --rs485."""
import asyncio
import select


class SerialPort:
    """A serial device, one end of a pty pair, as the RS485 transceiver (no direction pin
    to drive). tools/sim.py sets raw mode and the baud rate; a pty refuses parity, so the
    line the ESP32 driver would apply is only recorded (the slave's status shows it)."""

    def __init__(self, path):
        self.path = path
        self._f = open(path, "r+b")
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)
        self._stream = asyncio.StreamReader(self._f)
        self._one = bytearray(1)
        self.line = None

    def configure(self, line):
        self.line = line

    async def readinto(self, buf):
        # A file reads exactly what it is asked for: one byte once readable, then the rest
        # that is there.
        if not await self._stream.readinto(self._one):
            raise OSError("serial device %s closed" % self.path)
        buf[0] = self._one[0]
        return 1 + self.take(buf, 1)

    def take(self, buf, n):
        k = n
        while k < len(buf) and self._ready():
            if not self._f.readinto(self._one):
                raise OSError("serial device %s closed" % self.path)
            buf[k] = self._one[0]
            k += 1
        return k - n

    def _ready(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    async def write(self, buf, n):
        self._f.write(memoryview(buf)[:n])


class Leds:
    """The P1MB's LEDs: the states are in the RTU slave's status."""

    def show(self, states):
        pass
