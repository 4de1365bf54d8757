"""The last requests the Modbus server answered, for installers: a charger polling the
wrong template shows up here (its addresses, and whether they are mapped). A fixed ring
of bytes written in place: logging a request allocates nothing."""
import struct

SIZE = 32
_ENTRY = ">4sBBHHB"  # client IPv4, function, unit, address, count, result (0 = ok)
_LEN = struct.calcsize(_ENTRY)


def ipv4(peername):
    """The client's IPv4 address as 4 bytes (a tuple on the ESP32 and CPython, a raw
    sockaddr on the unix port)."""
    if isinstance(peername, tuple):
        try:
            return bytes(int(x) for x in peername[0].split("."))[:4]
        except ValueError:
            return bytes(4)
    return bytes(peername[4:8]) if peername else bytes(4)


class RequestLog:
    def __init__(self):
        self._ring = bytearray(SIZE * _LEN)
        self.count = 0  # requests logged since start

    def add(self, client, pdu, off, n, result):
        """client: ipv4(); pdu[off:off + n] the request's unit id and PDU; result: 0 or
        the exception code answered."""
        fn = pdu[off + 1] if n > 1 else 0
        addr = pdu[off + 2] << 8 | pdu[off + 3] if n > 3 else 0
        qty = pdu[off + 4] << 8 | pdu[off + 5] if n > 5 else 0
        struct.pack_into(_ENTRY, self._ring, (self.count % SIZE) * _LEN, client, fn,
                         pdu[off], addr, qty, result)
        self.count += 1

    def entries(self):
        """Oldest first, as the status shows them."""
        out = []
        for i in range(max(0, self.count - SIZE), self.count):
            ip, fn, unit, addr, qty, res = struct.unpack_from(_ENTRY, self._ring,
                                                              (i % SIZE) * _LEN)
            out.append({"client": "%d.%d.%d.%d" % tuple(ip), "function": fn, "unit": unit,
                        "address": addr, "count": qty,
                        "result": "ok" if not res else "exception %d" % res})
        return out
