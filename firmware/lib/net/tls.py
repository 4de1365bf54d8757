"""TLS connections to the broker, verified: the CA from the device identity, the broker's
name checked, and the device certificate offered for mutual TLS.

MicroPython's SSLContext starts with verify_mode CERT_NONE and open_connection(ssl=True)
verifies nothing, so the context is always built here, never defaulted.
"""
import asyncio
import ssl
import sys

_MICROPYTHON = sys.implementation.name == "micropython"


def context(identity, client_cert=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=identity.read("ca.der"))
    if client_cert:
        if _MICROPYTHON:
            ctx.load_cert_chain(identity.read("device.der"), identity.read("device.key.der"))
        else:  # CPython loads the chain from PEM files only
            ctx.load_cert_chain(identity.path("device.crt"), identity.path("device.key"))
    return ctx


def server_context(identity):
    """The HTTPS server's context: the device key and its certificate, whose names are
    the device's mDNS names (tools/provision.py)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if _MICROPYTHON:
        ctx.load_cert_chain(identity.read("device.der"), identity.read("device.key.der"))
    else:
        ctx.load_cert_chain(identity.path("device.crt"), identity.path("device.key"))
    return ctx


async def open_connection(ip, port, host, ctx, timeout):
    """(reader, writer, plain socket or None) to ip, checking the certificate against the
    name host; the handshake and its verification finish by the first write. The name is
    resolved beforehand (net.dns): open_connection's own lookup would block the loop.
    Close the plain socket too when done: MicroPython 1.28 forgets it when a handshake
    fails (ssl_check_async_handshake_failure), and it would leak."""
    if not _MICROPYTHON:
        r, w = await asyncio.wait_for(
            asyncio.open_connection(ip, port, ssl=ctx, server_hostname=host), timeout)
        return r, w, None
    r, w = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
    raw = w.s
    s = asyncio.StreamReader(ctx.wrap_socket(raw, server_hostname=host,
                                             do_handshake_on_connect=False))
    return s, s, raw


async def close(writer, raw):
    """Closes a connection of open_connection: the TLS stream, then its plain socket."""
    writer.close()
    try:
        await writer.wait_closed()
    except (OSError, ValueError):
        pass
    if raw is not None:
        raw.close()


def error_text(e):
    """One line for the status: TLS libraries put newlines and codes in their messages."""
    return " ".join(str(e).split()) or type(e).__name__
