"""The ESP-IDF application image (esp_app_format.h, esp_app_desc.h) as an update meets
it: what an image says it is, read from its first bytes before anything is erased
(describe, check), and a walker that follows its segments as it streams in, so that an
image the bootloader would refuse (checksum, appended SHA-256, length) is refused before
it is marked bootable.

Layout: a 24-byte header, 1 to 16 segments (8-byte header, data whose length is a
multiple of 4), the first segment's data starting with the 256-byte esp_app_desc_t;
zero padding up to a checksum byte that ends a 16-byte block (0xEF XOR every segment
data byte); with hash_appended, the SHA-256 of all bytes before it. For signed apps (V1
scheme) a 68-byte signature block follows at image_len; it signs the SHA-256 of
[0, image_len), appended hash included. The walker gathers that block and computes that
digest; checking the signature is for the caller."""
import hashlib
import struct

from meter import lex

try:
    from micropython import const
except ImportError:
    const = int

MAGIC = const(0xE9)
DESC_MAGIC = const(0xABCD5432)
HEADER_LEN = const(24)
SEGMENT_LEN = const(8)  # a segment's header: load address, data length
DESC_LEN = const(256)
DESC_AT = const(32)  # the descriptor: the first segment's data
HEAD_LEN = const(288)  # what describe reads: header, first segment header, descriptor
MAX_SEGMENTS = const(16)
HASH_LEN = const(32)
SIG_LEN = const(68)  # the V1 signature block: u32 version 0, 64-byte ECDSA signature
CHIP_ESP32 = const(0)
_SEGMENT_MAX = const(0x1000000)  # the bootloader's bound on a segment's length
_SEED = const(0xEF)

# Descriptor fields: (offset in the image, length)
VERSION_AT = const(48)
NAME_AT = const(80)  # project_name, which holds the board's name
TEXT_LEN = const(32)

# The walker's parts, in the order they come
_HEAD = const(0)
_SEG = const(1)
_DATA = const(2)
_PAD = const(3)
_SUM = const(4)
_HASH = const(5)
_SIG = const(6)
_PAST = const(7)


class Description:
    """What an image's first bytes say it is."""

    def __init__(self, version, secure_version, board, chip_id, hashed, first_len):
        self.version = version
        self.secure_version = secure_version
        self.board = board
        self.chip_id = chip_id
        self.hashed = hashed  # a SHA-256 is appended
        self.first_len = first_len  # the first segment's data length


def _header(h):
    """(segment count, hash_appended) of a 24-byte image header, or ValueError."""
    if h[0] != MAGIC:
        raise ValueError("magic: 0x%02x, not an app image (0xe9)" % h[0])
    n = h[1]
    if n == 0 or n > MAX_SEGMENTS:
        raise ValueError("segments: %d in the header (1 to %d)" % (n, MAX_SEGMENTS))
    if h[23] > 1:
        raise ValueError("header: hash_appended is %d (0 or 1)" % h[23])
    return n, h[23]


def _text(head, at, name):
    """A NUL-terminated UTF-8 field of the descriptor."""
    raw = bytes(head[at:at + TEXT_LEN])
    end = raw.find(b"\0")
    if end < 0:
        raise ValueError("descriptor: %s has no NUL in its %d bytes" % (name, TEXT_LEN))
    try:
        return raw[:end].decode()
    except UnicodeError:
        raise ValueError("descriptor: %s is not UTF-8" % name) from None


def describe(head):
    """The Description in an image's first HEAD_LEN (or more) bytes, or ValueError."""
    if len(head) < HEAD_LEN:
        raise ValueError("length: %d bytes, the head is %d" % (len(head), HEAD_LEN))
    _, hashed = _header(head)
    first, = struct.unpack_from("<I", head, HEADER_LEN + 4)
    if first < DESC_LEN:
        raise ValueError("descriptor: first segment %d bytes, the descriptor %d"
                         % (first, DESC_LEN))
    magic, secure = struct.unpack_from("<II", head, DESC_AT)
    if magic != DESC_MAGIC:
        raise ValueError("descriptor: magic 0x%08x (0x%08x)" % (magic, DESC_MAGIC))
    return Description(_text(head, VERSION_AT, "version"), secure,
                       _text(head, NAME_AT, "project_name"), head[12] | head[13] << 8,
                       hashed, first)


def _image_len(data_end, hashed):
    """Where the signature block starts when the last segment's data ends at data_end."""
    return (data_end | 15) + 1 + (HASH_LEN if hashed else 0)


def check(head, board, slot_size, running_secure_version, total_size):
    """The image's Description if this device may take it into a slot of slot_size bytes:
    total_size (image and signature block) must fit, the board and chip must be ours,
    the secure version no lower than the running firmware's. ValueError otherwise."""
    d = describe(head)
    if d.board != board:
        raise ValueError("board: image for %s, this device is %s" % (d.board, board))
    if d.chip_id != CHIP_ESP32:
        raise ValueError("chip: image for chip id %d, this device is an ESP32 (%d)"
                         % (d.chip_id, CHIP_ESP32))
    if total_size > slot_size:
        raise ValueError("size: %d bytes, the slot holds %d" % (total_size, slot_size))
    least = _image_len(HEADER_LEN + SEGMENT_LEN * head[1] + d.first_len, d.hashed) + SIG_LEN
    if total_size < least:
        raise ValueError("size: %d bytes, this image needs at least %d with its signature "
                         "block (unsigned?)" % (total_size, least))
    if d.secure_version < running_secure_version:
        raise ValueError("security version: %d, the running firmware's is %d"
                         % (d.secure_version, running_secure_version))
    return d


class Walker:
    """Follows an image and its signature block as consecutive chunks arrive (feed), on
    the bytes the caller writes to flash: checks each segment header and the checksum as
    they pass, and hashes as it goes, so nothing is read twice. MicroPython's hashlib has
    no copy(), so the appended SHA-256 (of [0, image_len - 32)) and the signed digest (of
    [0, image_len)) take two hash objects over the same chunks. verify() at the end.

    image_len is 0 until the last segment header has passed; signature holds the
    signature block once verify() has passed."""

    def __init__(self):
        self._buf = bytearray(HEADER_LEN)  # the header or a segment header, gathered
        self._appended = bytearray(HASH_LEN)
        self.signature = bytearray(SIG_LEN)
        self._signed = hashlib.sha256()
        self._plain = hashlib.sha256()  # [0, image_len - 32), dropped if none is appended
        self._part = _HEAD
        self._at = 0  # where the current part starts
        self._end = HEADER_LEN  # and ends
        self._left = 0  # segments still to come
        self._sum = _SEED
        self.fed = 0
        self.image_len = 0

    def feed(self, mv):
        """Takes the next chunk (a memoryview); ValueError as soon as the image is wrong."""
        base = self.fed
        n = len(mv)
        i = 0
        while i < n:
            take = min(n - i, self._end - base - i)
            part = self._part
            if part == _DATA:
                self._sum = lex.xor8(mv, i, i + take, self._sum)
            elif part == _SUM:
                if mv[i] != self._sum:
                    raise ValueError("checksum: 0x%02x in the image, 0x%02x computed"
                                     % (mv[i], self._sum))
            elif part == _PAST:
                raise ValueError("length: data past the signature block at %d"
                                 % (self.image_len + SIG_LEN))
            elif part != _PAD:
                into = self._buf if part < _HASH else (
                    self._appended if part == _HASH else self.signature)
                p = base + i - self._at
                into[p:p + take] = mv[i:i + take]
            i += take
            if base + i == self._end:
                self._next()
        self.fed = base + n
        end = self.image_len or self.fed
        if end > base:
            self._signed.update(mv[:min(n, end - base)])
        if self._plain is not None:
            if self.image_len:
                end -= HASH_LEN
            if end > base:
                self._plain.update(mv[:min(n, end - base)])

    def _next(self):
        """Moves on to the part after the one that just ended (empty parts pass at once)."""
        part = self._part
        at = self._end
        if part == _HEAD:
            self._left, hashed = _header(self._buf)
            if not hashed:
                self._plain = None
            part, end = _SEG, at + SEGMENT_LEN
        elif part == _SEG:
            size, = struct.unpack_from("<I", self._buf, 4)
            if size & 3 or size >= _SEGMENT_MAX:
                raise ValueError("segments: segment at %d has length %d" % (at - SEGMENT_LEN,
                                                                          size))
            self._left -= 1
            part, end = _DATA, at + size
            if not self._left:
                self.image_len = _image_len(end, self._plain is not None)
        elif part == _DATA and self._left:
            part, end = _SEG, at + SEGMENT_LEN
        elif part == _DATA:
            part, end = _PAD, at | 15
        elif part == _PAD:
            part, end = _SUM, at + 1
        elif part == _SUM and self._plain is not None:
            part, end = _HASH, at + HASH_LEN
        elif part <= _HASH:
            part, end = _SIG, at + SIG_LEN
        else:
            part, end = _PAST, at + 1
        self._part, self._at, self._end = part, at, end
        if end == at:
            self._next()

    def want(self):
        """How many bytes the walker can take now without passing the signature block's
        end: the rest of the image when image_len is known, else the rest of the current
        part. A reader of a slot (the sim's set_boot) feeds no more, and so stops at the
        end of the image whatever the slot holds after it."""
        if self.image_len:
            return self.image_len + SIG_LEN - self.fed
        return self._end - self.fed

    def verify(self):
        """The SHA-256 of [0, image_len), which the signature block signs, once the image
        and its signature block have come whole and the appended SHA-256 matches;
        ValueError otherwise. Once: MicroPython's hashlib is final after digest()."""
        if self._part < _PAST:
            if self.image_len:
                raise ValueError("length: %d bytes, the image and its signature block are %d"
                                 % (self.fed, self.image_len + SIG_LEN))
            raise ValueError("length: %d bytes, the image ends before its last segment"
                             % self.fed)
        if self._plain is not None and self._plain.digest() != self._appended:
            raise ValueError("hash: the appended SHA-256 is not the image's")
        return self._signed.digest()
