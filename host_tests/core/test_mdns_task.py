"""The mDNS responder's socket loop (net/mdns_task.py) over a real UDP socket: a datagram
that meets a heap too short to receive it is read away and counted, so the socket is not
left readable with it and the loop does not spin on it (the issue 19 soak at 82 KB: 47,808
failed reads in 3 minutes); the next datagram is answered."""
import socket
import time

from net import mdns, mdns_task
from net import mdns_wire as w

HOST = "smart-connect-sc0001.local"


class ShortHeapOnce:
    """The responder's socket, whose first recvfrom finds no heap, as a fragmented heap
    makes MicroPython's recvfrom fail before it reads (it allocates the buffer first)."""

    def __init__(self, sock):
        self.sock = sock
        self.short = True

    def recvfrom(self, n):
        if self.short:
            self.short = False
            raise MemoryError
        return self.sock.recvfrom(n)

    def readinto(self, buf):
        read = getattr(self.sock, "readinto", None)  # MicroPython; CPython names it recv_into
        return read(buf) if read else self.sock.recv_into(buf)

    def sendto(self, data, to):
        return self.sock.sendto(data, to)


def _addr(port):
    return socket.getaddrinfo("127.0.0.1", port)[0][-1]


def _wait_readable(sock):
    """Until the datagram sent on loopback has arrived (it is asynchronous on Linux too)."""
    for _ in range(100):
        try:
            got = sock.recvfrom(512)
        except OSError:
            time.sleep(0.01)
            continue
        return got
    raise AssertionError("nothing arrived")


def _bound(sock):
    """sock bound to a free loopback port, which it returns (MicroPython's sockets have
    no getsockname)."""
    for port in range(47000 + int(time.time() * 1000) % 1000, 49000):
        try:
            sock.bind(_addr(port))
            return port
        except OSError:
            continue
    raise AssertionError("no free port")


def _claimed():
    """A responder past its probes and announcements: it answers queries."""
    r = mdns.Responder(HOST, "smart-connect.local", "Smart Connect SC0001", "_http._tcp.local",
                       8443, (("serial", "SC0001"),), rand=lambda n: b"\x00")
    r.set_address("192.168.1.20")
    now = 0
    while r.next_ms(now) is not None:
        r.tick(now)
        now += max(r.next_ms(now) or 1, 1)
    return r, now


def test_a_datagram_there_is_no_heap_for_is_read_away_and_the_next_answered():
    r, now = _claimed()
    task = mdns_task.MdnsTask(r, lambda: now)
    inner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = _bound(inner)
    inner.setblocking(False)
    task._sock = ShortHeapOnce(inner)
    asker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    asker.bind(_addr(0))
    asker.setblocking(False)
    for qid in (1, 2):
        asker.sendto(w.packet(qid, 0, [w.question(w.name(HOST), w.A)], (), ()), _addr(port))
    time.sleep(0.05)
    task._read()
    assert task.dropped == 1 and task.errors == 0
    data, _ = _wait_readable(asker)  # from a port not 5353: a unicast answer
    assert data[:2] == b"\x00\x02"  # to the second query: the first was read away
    time.sleep(0.05)
    for sock in (inner, asker):
        try:
            sock.recvfrom(512)
            raise AssertionError("a datagram was left")
        except OSError:
            pass
    inner.close()
    asker.close()
