"""One UDP request and its answer without blocking the event loop (DNS, SNTP): blocking
calls such as ntptime's recv or lwIP's getaddrinfo would stall Modbus and the meter
input. The socket is non-blocking and polled every few ms until the answer or the
timeout; only datagrams from the address asked count."""
import asyncio
import errno
import socket

_POLL_MS = 10


async def ask(addr, request, size, timeout_ms, check):
    """Sends request to addr (a getaddrinfo address) and passes each datagram from addr to
    check(datagram) until check returns something other than None, which ask returns.
    None after timeout_ms or on any socket error: no sockets left or a pulled cable must
    not end the caller. A datagram check refuses does not end the wait, so a stray or
    blindly spoofed one cannot cut it short."""
    s = None
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.sendto(request, addr)
        for _ in range(timeout_ms // _POLL_MS):
            try:
                data, peer = s.recvfrom(size)
            except OSError as e:
                if e.errno != errno.EAGAIN:  # anything but "nothing yet"
                    return None
                data = None
            if data and peer == addr:
                got = check(data)
                if got is not None:
                    return got
            # one datagram per poll: a flood of strays cannot starve the loop
            await asyncio.sleep(_POLL_MS / 1000)
        return None
    except OSError:
        return None
    finally:
        if s is not None:
            s.close()
