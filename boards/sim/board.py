"""The sim board: the firmware on the MicroPython unix port (tools/sim.py starts it).

The meter UART is a TCP port that tools/metersim.py connects to (one meter at a time);
P1 out is a TCP port streaming the same bytes. Line settings cannot apply to a socket,
so configure() only records them. Ports come from the environment sim.py sets.
"""
import asyncio
import os
import sys
import time

from net.fanout import Fanout

NAME = "sim"


def _env(name, default):
    v = os.getenv("SC_" + name)
    return default if v is None else type(default)(v)


METER = _env("METER", "p1")  # p1 (DSMR, e-MUCS, A1) or tic
HOST = _env("HOST", "127.0.0.1")
MODBUS_PORT = _env("MODBUS_PORT", 1502)
RAW_PORT = _env("RAW_PORT", 8088)
P1_OUT_PORT = _env("P1_OUT_PORT", 8089)
METER_PORT = _env("METER_PORT", 8090)
STATUS_EVERY = _env("STATUS_EVERY", 0)  # seconds between status lines on stdout, 0 = none
NTP = _env("NTP", "on")  # off: no network time, the meter's clock has to stand in
CONFIG_PATH = "config.json"  # sim.py runs the firmware in the flash directory
IDENTITY_DIR = "identity"
REBOOT_EXIT = 75  # tools/sim.py starts the firmware again when it exits with this code


def boot():
    _presize_poller()


def _presize_poller(fds=64):
    """Works around a MicroPython 1.28 unix-port bug: when select.poll's table of file
    descriptors is reallocated, poll_set_add_fd re-bases every entry's pollfd pointer,
    also the NULL of objects without a descriptor (TLS sockets), which then crash
    ipoll. Growing the table once, before any TLS socket exists, means it never moves.
    (The ESP32 build polls without that table.)"""
    poller = asyncio.core._io_queue.poller
    for fd in range(1000, 1000 + fds):
        poller.register(fd)
    for fd in range(999 + fds, 999, -1):  # last slot first: the table's used size drops to 0
        poller.unregister(fd)


def default_serial():
    return "SIM000000001"


async def network_time():
    """The host's clock stands in for SNTP."""
    return None if NTP == "off" else int(time.time())


def set_clock(epoch):
    pass  # TLS on the unix port checks certificates against the host's clock


def reset():
    sys.exit(REBOOT_EXIT)


def watchdog():
    return None


def fatal():
    sys.exit(1)


def meter_port():
    return _MeterPort()


class _MeterPort:
    """One meter cable at a time: a connection is read to its end, then the next one
    waiting (at most one) takes over, so a restarted metersim loses no bytes."""

    def __init__(self):
        self.setting = None
        self.p1 = Fanout()
        self._conns = []  # [reader, done event]: the current one first
        self._arrived = asyncio.Event()

    async def start(self):
        await asyncio.start_server(self._accept, HOST, METER_PORT)
        if METER == "p1":
            await self.p1.start(P1_OUT_PORT, HOST)
        print("sim: meter in %d, p1 out %s" % (METER_PORT, P1_OUT_PORT if METER == "p1"
                                                  else "none (TIC board)"))

    def configure(self, setting):
        self.setting = setting

    async def readinto(self, buf):
        """Bytes from the connected meter; 0 when it disconnected."""
        while not self._conns:
            await self._arrived.wait()
            self._arrived.clear()
        reader, done = self._conns[0]
        try:
            n = await reader.readinto(buf)
        except OSError:
            n = 0
        if n == 0:
            self._conns.pop(0)
            done.set()
        return n or 0  # None: woken without data

    def p1_out(self, data):
        if METER == "p1":
            self.p1.publish(data)

    async def _accept(self, reader, writer):
        if len(self._conns) < 2:
            done = asyncio.Event()
            self._conns.append([reader, done])
            self._arrived.set()
            await done.wait()
        writer.close()
        await writer.wait_closed()
