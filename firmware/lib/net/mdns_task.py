"""The mDNS responder (net/mdns.py) on its one UDP socket: 0.0.0.0:5353, a member of
224.0.0.251 on the interface that has the address, reopened when the address changes
(the membership follows the interface). Runs on MicroPython (the sim and the device)."""
import asyncio
import errno
import socket
import sys

from net import mdns
from net.wait import readable

try:
    from micropython import const
except ImportError:
    const = int

# Read per datagram: queries are small; of a longer datagram (another device's full
# announcement) the records that came whole still count, in which a conflicting answer
# for our shared name comes first as in ours. Each read allocates this much for a moment.
_SIZE = const(512)
_BURST = const(8)  # datagrams read per wake-up, so a flood cannot hold the loop
_DROP = bytearray(1)  # where a datagram there is no heap for is read away
_IDLE_MS = const(1000)  # a new address is looked for at least this often
_REOPEN_MS = const(5000)  # after the socket could not be opened (no sockets left, no interface)
# Linux's option numbers (the sim): MicroPython's unix port does not name them. The ESP32's
# lwIP socket layer has neither; lwIP sends multicast with its default TTL and the one
# interface that is up.
_IPPROTO_IP = const(0)
_IP_MULTICAST_IF = const(32)
_IP_MULTICAST_TTL = const(33)



def _port(peer):
    """The source port of a recvfrom() address: a tuple on the ESP32, a sockaddr on the
    unix port."""
    return peer[1] if isinstance(peer, tuple) else peer[2] << 8 | peer[3]


def open_socket(ip):
    """The responder's socket, a member of the mDNS group on the interface of ip."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # beside avahi on a PC
        s.bind(socket.getaddrinfo("0.0.0.0", mdns.PORT)[0][-1])
        here = bytes(int(x) for x in ip.split("."))
        group = bytes(int(x) for x in mdns.GROUP.split("."))
        s.setsockopt(_IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group + here)
        if sys.platform != "esp32":
            s.setsockopt(_IPPROTO_IP, _IP_MULTICAST_IF, here)
            s.setsockopt(_IPPROTO_IP, _IP_MULTICAST_TTL, 255)  # RFC 6762 section 11
        s.setblocking(False)
    except OSError:
        s.close()
        raise
    return s


def device(hostname, serial, https_port, ms):
    """The task for this device: its names, its _http._tcp service on the HTTPS port."""
    r = mdns.Responder(hostname + ".local", "smart-connect.local",
                       "Smart Connect " + serial, "_http._tcp.local", https_port,
                       (("serial", serial), ("product", "Smart Connect"), ("path", "/api/v1")))
    return MdnsTask(r, ms)


class MdnsTask:
    """Runs a Responder: its timers, the datagrams it is sent, the packets it answers."""

    def __init__(self, responder, ms):
        self.responder = responder
        self._ms = ms
        self._sock = None
        self._bound = None  # the address the socket was opened for
        self._group = socket.getaddrinfo(mdns.GROUP, mdns.PORT)[0][-1]
        self.errors = 0  # socket errors: no sockets left, a cable pulled while sending
        self.dropped = 0  # datagrams there was no heap for at that moment

    def status(self):
        st = self.responder.status()
        st["errors"] = self.errors
        st["dropped"] += self.dropped
        return st

    async def run(self):
        r = self.responder
        reopen_at = None
        while True:
            now = self._ms()
            self._send(r.tick(now), self._group)
            if r.address != self._bound:
                reopen_at = self._reopen(r.address, now)
            elif reopen_at is not None and now - reopen_at >= 0:
                reopen_at = self._reopen(r.address, now)
                if reopen_at is None:
                    r.restart(now)
            wait = r.next_ms(now)
            wait = _IDLE_MS if wait is None else min(wait, _IDLE_MS)
            if self._sock is None:  # ints, not seconds: no float allocated at every wake
                await asyncio.sleep_ms(wait)
                continue
            try:
                await asyncio.wait_for_ms(readable(self._sock), wait)
            except asyncio.TimeoutError:
                continue
            self._read()

    def _reopen(self, ip, now):
        """(Re)opens the socket for ip; when reopening should be tried again."""
        self._close()
        self._bound = ip
        if ip is None:
            return None
        try:
            self._sock = open_socket(ip)
        except OSError:
            self.errors += 1
            return now + _REOPEN_MS
        return None

    def _close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read(self):
        r = self.responder
        for _ in range(_BURST):
            try:
                try:
                    d, peer = self._sock.recvfrom(_SIZE)
                except MemoryError:
                    # recvfrom allocates before it reads: the datagram is still queued
                    # and the socket still readable. Read it away into the preallocated
                    # byte (the rest of a datagram is discarded) or the loop would spin.
                    self._sock.readinto(_DROP)
                    self.dropped += 1
                    continue
                legacy = _port(peer) != mdns.PORT
                self._send(r.receive(d, legacy, self._ms()), peer if legacy else self._group)
            except MemoryError:  # that datagram only: the next one may find room
                self.dropped += 1
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    self.errors += 1
                return

    def _send(self, pkts, to):
        for p in pkts:
            if self._sock is None:
                return
            try:
                self._sock.sendto(p, to)
            except OSError:
                self.errors += 1
