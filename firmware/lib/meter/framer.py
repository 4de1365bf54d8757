"""Cuts the meter byte stream, in whatever chunks the UART returns, into DSMR telegrams
('/' .. '!' CRC CRLF) and TIC frames (STX .. ETX).

Bytes are searched with find() and copied a segment at a time into one preallocated
buffer; a frame longer than the buffer is dropped and the framer resyncs at the next
'/' or STX. Telegrams carry a 0x02 in some ident lines (Iskra IE), so STX only starts a
frame outside an ident line; '/' restarts a DSMR telegram, STX restarts either frame,
EOT aborts a TIC frame.
"""
try:
    from micropython import const
except ImportError:
    const = int

DSMR = const(1)
TIC = const(2)

_IDLE = const(0)
_DSMR_TAIL = const(3)  # after '!': CRC digits and CRLF
_TAIL_MAX = const(8)  # '!' + 4 hex digits + CRLF, with room for one stray byte


# The largest frame kept: the contract's 6 KB, 1.7 times the longest real telegram
# (13 months of e-MUCS peaks or a long text message reach 3.5 KB).
SIZE = const(6144)


class Framer:
    def __init__(self, on_frame, size=SIZE, kinds=DSMR | TIC):
        """on_frame(kind, buf, n) gets each complete frame as buf[0:n]; buf is reused
        for the next frame, so the callback must be done with it when it returns.
        kinds: the frames to look for. A P1 port passes DSMR, a TIC port TIC, so noise
        that holds an STX (or a '/') cannot swallow the next real frame."""
        self.buf = bytearray(size)
        self._slash = b"/" if kinds & DSMR else None
        self._stx = b"\x02" if kinds & TIC else None
        self._on_frame = on_frame
        self._n = 0
        self._state = _IDLE
        self._tail = 0
        self._body = False  # DSMR: past the ident line
        self.frames = 0
        self.dropped = 0  # frames cut short: restarted, aborted by EOT, bad end line
        self.oversized = 0
        self.noise = 0  # bytes outside any frame

    def feed(self, data, n=-1):
        """Consume one chunk: data[0:n] (bytes or bytearray; n < 0: all of it). A reused
        read buffer is passed whole with its fill, so no chunk is copied to be framed."""
        if n < 0:
            n = len(data)
        mv = memoryview(data)
        pos = 0
        while pos < n:
            st = self._state
            if st == _IDLE:
                pos = self._start(data, pos, n)
            elif st == DSMR:
                # 0x02 is data in the ident line (Iskra IE), a TIC frame start after it.
                lf = -1 if self._body else data.find(b"\n", pos, n)
                slash = data.find(b"/", pos, n)
                bang = data.find(b"!", pos, n)
                stx = -1
                if self._stx:
                    start = pos if self._body else (n if lf < 0 else lf + 1)
                    stx = data.find(self._stx, start, n)
                first = _earliest(slash, bang, stx, n)
                if 0 <= lf < first:
                    self._body = True
                if first == n:
                    pos = self._append(mv, pos, n)
                elif first == bang:
                    pos = self._append(mv, pos, bang + 1)
                    if self._state == DSMR:
                        self._state = _DSMR_TAIL
                        self._tail = 1
                else:
                    self._restart()
                    pos = first
            elif st == _DSMR_TAIL:
                lf = data.find(b"\n", pos, n)
                end = n if lf < 0 else lf + 1
                if self._tail + end - pos > _TAIL_MAX:
                    self.dropped += 1
                    self._state = _IDLE
                    continue
                self._tail += end - pos
                pos = self._append(mv, pos, end)
                if lf >= 0:
                    self._emit(DSMR)
            else:
                stx = data.find(b"\x02", pos, n)
                etx = data.find(b"\x03", pos, n)
                eot = data.find(b"\x04", pos, n)
                first = _earliest(stx, etx, eot, n)
                if first == n:
                    pos = self._append(mv, pos, n)
                elif first == stx:
                    self._restart()
                    pos = stx
                elif first == etx:
                    pos = self._append(mv, pos, etx + 1)
                    if self._state == TIC:
                        self._emit(TIC)
                else:
                    self.dropped += 1
                    self._state = _IDLE
                    pos = eot + 1

    def _start(self, data, pos, n):
        slash = data.find(self._slash, pos, n) if self._slash else -1
        stx = data.find(self._stx, pos, n) if self._stx else -1
        if slash < 0 and stx < 0:
            self.noise += n - pos
            return n
        start = slash if stx < 0 or 0 <= slash < stx else stx
        self.noise += start - pos
        self._state = DSMR if start == slash else TIC
        self.buf[0] = data[start]
        self._n = 1
        self._body = False
        return start + 1

    def _restart(self):
        self.dropped += 1
        self._state = _IDLE

    def _append(self, mv, a, b):
        """Copy mv[a:b] into the frame; past the buffer size, drop the frame and go back
        to searching from a (the dropped bytes hold no frame start)."""
        k = b - a
        if self._n + k > len(self.buf):
            self.oversized += 1
            self._state = _IDLE
            return a
        self.buf[self._n:self._n + k] = mv[a:b]
        self._n += k
        return b

    def _emit(self, kind):
        self._state = _IDLE
        self.frames += 1
        self._on_frame(kind, self.buf, self._n)


def _earliest(a, b, c, n):
    """The smallest of the find() results that found something, else n."""
    first = n
    if 0 <= a < first:
        first = a
    if 0 <= b < first:
        first = b
    if 0 <= c < first:
        first = c
    return first
