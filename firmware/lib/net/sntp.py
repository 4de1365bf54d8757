"""One SNTP query (RFC 4330 client mode) over net.udp, without blocking the event loop."""
import os
import socket

from device.modules import forget
from net import udp

NTP_DELTA = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01


async def network_time(host, port, server):
    """UTC epoch seconds from the SNTP server host (a name resolved without blocking:
    lwIP's getaddrinfo would stall the loop for seconds when the DNS server does not
    answer; server: the DNS server's (ip, port)), or None. It runs once an hour, so its
    modules (this one, net.dns, net.udp) are let go after each query."""
    from net import dns

    try:
        ip = await dns.resolve(host, server)
        return None if ip is None else await query(socket.getaddrinfo(ip, port)[0][-1])
    finally:
        for name in ("net.sntp", "net.dns", "net.udp"):
            forget(name)


async def query(addr, timeout_ms=2000):
    """UTC epoch seconds from the server at addr (a getaddrinfo address), or None; never
    raises OSError. Only a reply that echoes our random transmit timestamp counts."""
    req = bytearray(48)
    req[0] = 0x1B  # LI 0, version 3, mode 3 (client)
    sent = os.urandom(8)  # RFC 4330 lets a client send any transmit timestamp
    req[40:48] = sent
    return await udp.ask(addr, req, 48, timeout_ms, lambda d: parse(d, sent))


def parse(data, sent=None):
    """Transmit timestamp of a server answer in UTC epoch seconds, or None if it is not a
    usable answer; sent: the 8 bytes of our transmit timestamp, which the answer's
    originate timestamp must echo (None: not checked)."""
    if len(data) < 48 or data[0] >> 6 == 3 or data[0] & 0x07 != 4 or \
            (data[0] >> 3) & 0x07 not in (3, 4) or not 1 <= data[1] <= 15:
        return None  # unsynchronised, not a unicast server answer, kiss-o'-death, version
    if sent is not None and data[24:32] != sent:
        return None
    secs = int.from_bytes(data[40:44], "big")
    if not secs:
        return None
    if secs < 0x80000000:  # NTP era 1 starts in February 2036
        secs += 1 << 32
    return secs - NTP_DELTA
