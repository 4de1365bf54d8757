"""Cuts the meter byte stream, in whatever chunks the UART returns, into DSMR telegrams
('/' .. '!' CRC CRLF) and TIC frames (STX .. ETX).

Bytes are searched with find() and copied a segment at a time into one preallocated
buffer; a frame longer than the buffer is dropped. Meters put '/' and '!' in text
messages, so inside a telegram's body they count only at a line start; a '/' anywhere
starts a telegram only while none is in progress (at the start, after a telegram's end
or after silence). DSMR 2.2/3.0 meters may send no end line: their telegram ends at the
next telegram's '/', or when the line falls silent (tick). Telegrams carry a 0x02 in
some ident lines (Iskra IE), so STX only starts a frame outside an ident line; EOT
aborts a TIC frame.
"""
try:
    from micropython import const
except ImportError:
    const = int

DSMR = const(1)
TIC = const(2)

_IDLE = const(0)  # no telegram in progress: any '/' starts one
_DSMR_TAIL = const(3)  # after '!': CRC digits and CRLF
_SKIP = const(4)  # inside a dropped telegram: only a '/' at a line start starts one
_TAIL_MAX = const(8)  # '!' + 4 hex digits + CRLF, with room for one stray byte
_LF = const(10)

# The largest frame kept: the contract's 6 KB, 1.7 times the longest real telegram
# (13 months of e-MUCS peaks or a long text message reach 3.5 KB).
SIZE = const(6144)

# IEC 62056-21, which DSMR 2.2/3.0 build on, allows at most 1.5 s between two characters
# of a message: a longer silence means the telegram is over. Those meters send every 10 s.
SILENCE_MS = const(1500)


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
        self._lf = True  # the byte before the next chunk ends a line (or there is none)
        self._fed = False  # bytes arrived since the last tick
        self._heard = 0  # the last tick that found bytes
        self.frames = 0
        self.dropped = 0  # frames cut short: restarted, aborted by EOT, bad end line, silence
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
            if st == _IDLE or st == _SKIP:
                pos = self._start(data, pos, n)
            elif st == DSMR:
                pos = self._dsmr(data, mv, pos, n)
            elif st == _DSMR_TAIL:
                lf = data.find(b"\n", pos, n)
                end = n if lf < 0 else lf + 1
                if self._tail + end - pos > _TAIL_MAX:
                    self.dropped += 1
                    self._state = _SKIP
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
                    self.dropped += 1
                    self._state = _IDLE
                    pos = stx
                elif first == etx:
                    pos = self._append(mv, pos, etx + 1)
                    if self._state == TIC:
                        self._emit(TIC)
                else:
                    self.dropped += 1
                    self._state = _IDLE
                    pos = eot + 1
        if n:
            self._lf = data[n - 1] == _LF
            self._fed = True

    def tick(self, now):
        """Housekeeping about once a second (now: ms, any monotonic origin). After
        SILENCE_MS without a byte the frame in progress is over (see end)."""
        if self._fed:
            self._fed = False
            self._heard = now
        elif now - self._heard >= SILENCE_MS and self._state != _IDLE:
            self.end(False)

    def end(self, cut=True):
        """The frame in progress gets no more bytes (silence, or the end of a capture).
        A DSMR telegram whose last line is complete goes to on_frame: DSMR 2.2/3.0 meters
        may send no end line, and the parser decides. Any other frame is dropped, or with
        cut passed on too (tools/decode.py reports it). Then any '/' starts a telegram."""
        st = self._state
        if st == DSMR or st == TIC or st == _DSMR_TAIL:
            if cut or (st == DSMR and self._body and self.buf[self._n - 1] == _LF):
                self._emit(TIC if st == TIC else DSMR)
            else:
                self.dropped += 1
        self._state = _IDLE

    def _start(self, data, pos, n):
        slash = -1
        if self._slash:
            slash = data.find(b"/", pos, n) if self._state == _IDLE else \
                self._at_line_start(data, b"/", pos, n)
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

    def _dsmr(self, data, mv, pos, n):
        lf = -1
        if self._body:
            end = n
            slash = self._at_line_start(data, b"/", pos, n)
            bang = self._at_line_start(data, b"!", pos, n)
            stx = data.find(self._stx, pos, n) if self._stx else -1
        else:
            # The ident line never holds '/' or '!' (IEC 62056-21): either one there
            # means the telegram started in noise. 0x02 is data here (Iskra IE).
            lf = data.find(b"\n", pos, n)
            end = n if lf < 0 else lf + 1
            slash = data.find(b"/", pos, end)
            bang = data.find(b"!", pos, end)
            stx = -1
        first = _earliest(slash, bang, stx, end)
        if first == bang:
            pos = self._append(mv, pos, bang + 1)
            if self._state == DSMR:
                self._state = _DSMR_TAIL
                self._tail = 1
        elif first == slash and not self._body:
            self.dropped += 1
            self._state = _IDLE
            pos = slash
        else:
            pos = self._append(mv, pos, first)
            if self._state == DSMR:
                if not self._body:
                    self._body = lf >= 0
                elif first < n:
                    self.end(False)  # the next frame starts: this one had no end line
        return pos

    def _at_line_start(self, data, c, pos, n):
        """Index of the first c in data[pos:n] that starts a line, else -1."""
        i = data.find(c, pos, n)
        while i >= 0 and not (data[i - 1] == _LF if i else self._lf):
            i = data.find(c, i + 1, n)
        return i

    def _append(self, mv, a, b):
        """Copy mv[a:b] into the frame; past the buffer size, drop the frame and go back
        to searching from a, inside the dropped telegram."""
        k = b - a
        if self._n + k > len(self.buf):
            self.oversized += 1
            self._state = _SKIP
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
