"""The sim board: the firmware on the MicroPython unix port (tools/sim.py starts it).

The meter UART is a TCP port that tools/metersim.py connects to (one meter at a time);
P1 out is a TCP port streaming the same bytes. Line settings cannot apply to a socket,
so configure() only records them. Ports come from the environment sim.py sets.
"""
import asyncio
import os
import sys
import time

import simnet

from net.fanout import Fanout

NAME = "sim"


def _env(name, default):
    v = os.getenv("SC_" + name)
    return default if v is None else type(default)(v)


METER = _env("METER", "p1")  # p1 (DSMR, e-MUCS, A1) or tic
HOST = _env("HOST", "127.0.0.1")
MODBUS_PORT = _env("MODBUS_PORT", 1502)
RAW_PORT = _env("RAW_PORT", 8088)
HTTP_PORT = _env("HTTP_PORT", 8080)
HTTPS_PORT = _env("HTTPS_PORT", 8443)
P1_OUT_PORT = _env("P1_OUT_PORT", 8089)
METER_PORT = _env("METER_PORT", 8090)
STATUS_EVERY = _env("STATUS_EVERY", 0)  # seconds between status lines on stdout, 0 = none
# Network time: "host" (the host's clock stands in for SNTP), "off" (none: the meter's
# clock has to stand in) or "HOST:PORT" of an SNTP server, asked as the device asks.
NTP = _env("NTP", "host")
# The DNS server, "IP:PORT"; by default the host's first nameserver, as DHCP would give it.
DNS = _env("DNS", "")
# The address mDNS announces (tools/sim.py --mdns); "" runs no responder, so that port 5353
# stays the host's own (avahi).
MDNS_ADDRESS = _env("MDNS", "")
MDNS = bool(MDNS_ADDRESS)
# The serial device the RS485 Modbus RTU slave serves on (tools/sim.py --rs485), or "".
RS485 = _env("RS485", "")
CONFIG_PATH = "config.json"  # sim.py runs the firmware in the flash directory
UPDATE_PATH = "update.json"  # the record an update carries across its reboot
# A trial boot's deadline and settle time (update/trial.py): the device's by default;
# tests shorten them (tools/sim.py --trial-ms, --settle-ms).
TRIAL_MS = _env("TRIAL_MS", 120000)
SETTLE_MS = _env("SETTLE_MS", 10000)
IDENTITY_DIR = "identity"
# tools/sim.py starts the firmware again when it exits with one of these codes
REBOOT_EXIT = 75
SOFT_EXIT = 76


# File descriptors tools/sim.py gives the firmware: the device's sockets and the sim's own.
FDS = _env("FDS", 64)


def boot():
    _presize_poller(FDS - 3)  # every descriptor but stdin, stdout and stderr


def halted():
    return False  # the firmware always starts (an ESP32 may stop at the REPL: hw/esp32.py)


def _presize_poller(fds):
    """Works around a MicroPython 1.28 unix-port bug: when select.poll's table of file
    descriptors is reallocated, poll_set_add_fd re-bases every entry's pollfd pointer,
    also the NULL of objects without a descriptor (TLS sockets), which then crash
    ipoll. Growing the table once, before any TLS socket exists, means it never moves.
    It must not outgrow the descriptor limit: poll() refuses a longer table (EINVAL).
    (The ESP32 build polls without that table.)"""
    poller = asyncio.core._io_queue.poller
    for fd in range(1000, 1000 + fds):
        poller.register(fd)
    for fd in range(999 + fds, 999, -1):  # last slot first: the table's used size drops to 0
        poller.unregister(fd)


def default_serial():
    return "SIM000000001"


def network(hostname, ap_ssid, ap_key):
    """The network driver (boards/sim/simnet.py); its control commands arrive on stdin.
    SC_NET: the commands tools/sim.py replays after a restart (the cable stays pulled).
    The access point is state only (the status shows it)."""
    print("sim: network as", hostname)
    ip = dns_server()
    # The address a DHCP server gives: the one mDNS announces when it runs (a network
    # namespace's), else the host's.
    return simnet.SimNet(MDNS_ADDRESS or HOST, _env("NET", ""), ip[0] if ip else None)


def button():
    return simnet.BUTTON


def led():
    return None  # the pattern and colour are in the status (and the web UI's dot)


def dns_server():
    if DNS:
        host, port = DNS.rsplit(":", 1)
        return host, int(port)
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                words = line.split()
                if len(words) > 1 and words[0] == "nameserver" and "." in words[1]:
                    return words[1], 53
    except OSError:
        pass
    return None


async def network_time():
    if NTP == "off":
        return None
    if NTP == "host":
        return int(time.time())
    from net import sntp  # imported for the query and let go after it

    host, port = NTP.rsplit(":", 1)
    return await sntp.network_time(host, int(port), dns_server())


def set_clock(epoch):
    pass  # TLS on the unix port checks certificates against the host's clock


def reset():
    sys.exit(REBOOT_EXIT)


def soft_reset():
    sys.exit(SOFT_EXIT)


def reset_cause():
    """power-on, or what tools/sim.py says the last start was (reboot, soft, watchdog)."""
    return _env("RESET_CAUSE", "power-on")


def partition():
    """The flash's app slots and otadata as esp32.Partition (boards/sim/partition.py),
    set_boot verifying signatures against the key the running image trusts (SC_UPDATE_KEY:
    a file of its 64 raw bytes, which tools/sim.py gives); None when there are no slots."""
    try:
        os.stat("ota_0.bin")
    except OSError:
        return None
    return _Flash()


class _Flash:
    """esp32.Partition's class interface over boards/sim/partition.py, imported for each
    use and not kept in sys.modules: its code (and the ECDSA code set_boot needs) is held
    only while a partition object is in use, as the device's esp32.Partition, which is C,
    costs the Python heap nothing (the heap the tests measure)."""
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __call__(self, id, block_size=4096):
        return _partition().Partition(id, block_size)

    def find(self, type=0, subtype=0xFF, label=None, block_size=4096):
        return _partition().Partition.find(type, subtype, label, block_size)

    def mark_app_valid_cancel_rollback(self):
        _partition().Partition.mark_app_valid_cancel_rollback()


def _partition():
    import partition as m

    sys.modules.pop("partition", None)
    key = _env("UPDATE_KEY", "")
    if key:
        def verify(p):
            with open(key, "rb") as f:
                return m.verifier(f.read())(p)

        m.VERIFY = verify
    return m


WDT_PATH = "wdt"  # in the flash directory: tools/sim.py watches when it was last written


class _Watchdog:
    """The device's watchdog, kept by tools/sim.py: each feed truncates the file wdt (an
    open and a close, nothing written), whose change of mtime sim.py sees. A firmware that
    stops feeding it for sim.py's --watchdog-ms (the device's 10 s), or never feeds it
    within --boot-watchdog-ms of its start (the 30 s armed at boot), is killed and started
    again through the bootloader, reset cause "watchdog"."""

    def __init__(self):
        self.feed()  # the device's WDT(timeout=...) re-arms it with the firmware's timeout

    def feed(self):
        open(WDT_PATH, "w").close()


def watchdog():
    return _Watchdog()


def fatal(e):
    sys.print_exception(e)
    sys.exit(1)


def meter_port():
    return _MeterPort()


class _MeterPort:
    """One meter cable at a time: a connection is read to its end, then the next one
    waiting (at most one) takes over, so a restarted metersim loses no bytes."""

    def __init__(self):
        self.setting = None
        self.p1 = Fanout(1)  # sim only (the device's P1 out is its UART): one reader
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


def rs485():
    """The RS485 port of --rs485 (its module is loaded only then: it costs heap)."""
    if not RS485:
        return None
    from sim_rs485 import SerialPort

    return SerialPort(RS485)


def leds():
    if not RS485:
        return None
    from sim_rs485 import Leds

    return Leds()
