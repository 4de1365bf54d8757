"""Modbus RTU framing, shared by RTU over TCP (modbus/tcp.py) and the RS485 slave
(modbus/slave.py): a frame is the slave address, a PDU and its CRC-16/Modbus, low byte
first. The PDU is answered by modbus/pdu.py like any other; this module only delimits,
checks and seals frames, allocation-free.
"""
from meter import lex
from modbus import pdu


def crc_ok(buf, i, n):
    """buf[i:i+n] is a frame whose last two bytes are the CRC of the rest."""
    if n < 4:
        return False
    c = lex.crc_modbus(buf, i, i + n - 2)
    return buf[i + n - 2] == c & 0xFF and buf[i + n - 1] == c >> 8


def request_length(buf, i, n):
    """Length of the request starting at buf[i] (n bytes there): 0 while too few bytes
    say it, -1 for a function code whose requests carry no length."""
    if n < 2:
        return 0
    fc = buf[i + 1]
    if 1 <= fc <= 6:
        return 8
    if fc == 15 or fc == 16:
        return 9 + buf[i + 6] if n >= 7 else 0
    return -1


def answer(req, i, n, image, fresh, out, write=None):
    """The sealed answer to the checked frame req[i:i+n] in out; returns its length."""
    out[0] = req[i]
    return seal(out, 1 + pdu.answer(req, i + 1, n - 3, image, fresh, out, 1, write))


def seal(out, n):
    """Append the CRC to the n bytes of out; returns the frame's length."""
    c = lex.crc_modbus(out, 0, n)
    out[n] = c & 0xFF
    out[n + 1] = c >> 8
    return n + 2
