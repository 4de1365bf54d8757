"""Tiny DNS and SNTP servers on loopback UDP for the sim's network tests: what DHCP's DNS
server and pool.ntp.org are to the device. Each counts the queries it saw."""
import socket
import struct
import threading
import time

NTP_DELTA = 2208988800


class _UdpServer:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def _run(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            self.queries += 1
            reply = self.answer(data)
            if reply:
                self.sock.sendto(reply, peer)

    def close(self):
        self._stop.set()
        self.sock.close()


class DnsServer(_UdpServer):
    """Answers A queries from names {name: ip}; other names NXDOMAIN; silent=True answers
    nothing (a DNS server that is down)."""

    def __init__(self, names=None, silent=False):
        self.names = names or {}
        self.silent = silent
        super().__init__()

    def answer(self, q):
        if self.silent or len(q) < 17:
            return None
        end = q.index(b"\x00", 12) + 5
        labels, i = [], 12
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        ip = self.names.get(".".join(labels).lower())
        head = q[:2] + (b"\x81\x80" if ip else b"\x81\x83") + b"\x00\x01"
        if not ip:
            return head + b"\x00\x00\x00\x00\x00\x00" + q[12:end]
        rr = b"\xc0\x0c\x00\x01\x00\x01" + struct.pack(">IH", 60, 4) + socket.inet_aton(ip)
        return head + b"\x00\x01\x00\x00\x00\x00" + q[12:end] + rr


class NtpServer(_UdpServer):
    """An SNTP server with the host's clock (stratum 2); unsynced=True answers with leap
    indicator 3, as a server that lost its own time does."""

    def __init__(self, unsynced=False):
        self.unsynced = unsynced
        super().__init__()

    def answer(self, q):
        if len(q) < 48:
            return None
        now = time.time() + NTP_DELTA
        ts = struct.pack(">II", int(now), int((now % 1) * (1 << 32)))
        first = (0xE4 if self.unsynced else 0x24)  # LI, version 4, mode 4 (server)
        return bytes([first, 2, 6, 0xEC]) + bytes(20) + q[40:48] + ts + ts
