"""Modbus PDU handling shared by every transport (TCP, RTU over TCP, the RS485 slave):
FC03 and FC04 read the same register image, FC06 writes the few writable registers a
transport passes a writer for; everything else is an exception (SPEC sections 4 and 5).

Answers are written into a caller's preallocated buffer, so serving allocates nothing
per request beyond what the transport needs.
"""
try:
    from micropython import const
except ImportError:
    const = int

from modbus import registers

READ_HOLDING = const(3)
READ_INPUT = const(4)
WRITE_SINGLE = const(6)
ILLEGAL_FUNCTION = const(1)
ILLEGAL_ADDRESS = const(2)
ILLEGAL_VALUE = const(3)
# "Gateway target device failed to respond": the meter's values are stale.
TARGET_FAILED = const(11)
MAX_QUANTITY = const(125)
MAX_ANSWER = const(2 + 2 * MAX_QUANTITY)


def answer(req, i, n, image, fresh, out, o, write=None):
    """Answer the request PDU req[i:i+n] into out[o:]. Returns the answer's length;
    an exception answer has the function code's high bit set. write(address, value)
    returns 0 or an exception code; without it nothing is writable."""
    fc = req[i]
    if fc == WRITE_SINGLE and write is not None:
        if n != 5:
            return _exception(out, o, fc, ILLEGAL_VALUE)
        code = write(req[i + 1] << 8 | req[i + 2], req[i + 3] << 8 | req[i + 4])
        if code:
            return _exception(out, o, fc, code)
        out[o:o + 5] = req[i:i + 5]  # the echo
        return 5
    if fc != READ_HOLDING and fc != READ_INPUT:
        return _exception(out, o, fc, ILLEGAL_FUNCTION)
    if n != 5:
        return _exception(out, o, fc, ILLEGAL_VALUE)
    addr = req[i + 1] << 8 | req[i + 2]
    qty = req[i + 3] << 8 | req[i + 4]
    if qty < 1 or qty > MAX_QUANTITY:
        return _exception(out, o, fc, ILLEGAL_VALUE)
    if addr + qty > 0x10000:
        return _exception(out, o, fc, ILLEGAL_ADDRESS)
    if not fresh:
        return _exception(out, o, fc, TARGET_FAILED)
    out[o] = fc
    out[o + 1] = 2 * qty
    registers.read_into(image, addr, qty, out, o + 2)
    return 2 + 2 * qty


def _exception(out, o, fc, code):
    out[o] = (fc | 0x80) & 0xFF
    out[o + 1] = code
    return 2
