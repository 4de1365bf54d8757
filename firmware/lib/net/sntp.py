"""One SNTP query (RFC 4330 client mode) without blocking the event loop: ntptime waits
in a blocking recv for up to a second, which would stall Modbus and the meter input.
The socket is non-blocking and polled every few ms until the answer or the timeout."""
import asyncio
import errno
import os
import socket

NTP_DELTA = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
_POLL_MS = 10


async def query(addr, timeout_ms=2000):
    """UTC epoch seconds from the server at addr (a getaddrinfo address), or None. Never
    raises OSError: no sockets left or a pulled cable must not end the time-sync task.
    Only a reply from addr that echoes our random transmit timestamp counts, so a blindly
    spoofed or stray datagram is ignored and the wait goes on."""
    s = None
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        req = bytearray(48)
        req[0] = 0x1B  # LI 0, version 3, mode 3 (client)
        sent = os.urandom(8)  # RFC 4330 lets a client send any transmit timestamp
        req[40:48] = sent
        s.sendto(req, addr)
        for _ in range(timeout_ms // _POLL_MS):
            try:
                data, peer = s.recvfrom(48)
            except OSError as e:
                if e.errno != errno.EAGAIN:  # anything but "nothing yet"
                    return None
                data = None
            if data and peer == addr:
                t = parse(data, sent)
                if t is not None:
                    return t
            # one datagram per poll: a flood of strays cannot starve the loop
            await asyncio.sleep(_POLL_MS / 1000)
        return None
    except OSError:
        return None
    finally:
        if s is not None:
            s.close()


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
