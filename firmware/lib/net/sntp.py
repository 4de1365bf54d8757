"""One SNTP query (RFC 4330 client mode) without blocking the event loop: ntptime waits
in a blocking recv for up to a second, which would stall Modbus and the meter input.
The socket is non-blocking and polled every few ms until the answer or the timeout."""
import asyncio
import socket

NTP_DELTA = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
_POLL_MS = 10


async def query(addr, timeout_ms=2000):
    """UTC epoch seconds from the server at addr (a getaddrinfo address), or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        req = bytearray(48)
        req[0] = 0x1B  # LI 0, version 3, mode 3 (client)
        s.sendto(req, addr)
        for _ in range(timeout_ms // _POLL_MS):
            try:
                data = s.recv(48)
            except OSError:  # EAGAIN: nothing yet
                await asyncio.sleep(_POLL_MS / 1000)
                continue
            return parse(data)
        return None
    finally:
        s.close()


def parse(data):
    """Transmit timestamp of a server answer, or None if it is not a usable answer."""
    if len(data) < 48 or data[0] & 0x07 not in (4, 5) or not 1 <= data[1] <= 15:
        return None  # not a server / broadcast answer, or stratum 0 (kiss-o'-death)
    secs = int.from_bytes(data[40:44], "big")
    if not secs:
        return None
    if secs < 0x80000000:  # NTP era 1 starts in February 2036
        secs += 1 << 32
    return secs - NTP_DELTA
