"""Hostile input to the firmware's HTTP servers (the plain landing page and the HTTPS API
share one request reader): malformed request lines, oversized heads and bodies, a slow
sender, 500 connections opened and dropped. Each is answered or closed, the server keeps
serving, a Modbus client polling meanwhile never waits a second, the heap stays bounded
(on the device gauge, in the device's 96 KB)."""
import socket
import ssl
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient

from simfw import Sim, metersim
from webclient import NAME, Client


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    flash = tmp_path_factory.mktemp("http") / "flash"
    with Sim(flash, heap="96k", args=("--frozen32",)) as s:  # the device's heap
        s.meter(metersim.synthetic(50), interval=0.5)
        s.client = Client(s, flash)
        yield s


def exchange(port, data, tls_ctx=None, timeout=12):
    """Send data (over TLS with tls_ctx), then read until the server closes: what it
    answered (b"" if nothing)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls_ctx:
        s = tls_ctx.wrap_socket(s, server_hostname=NAME)
    out = b""
    try:
        s.sendall(data)
        if not tls_ctx:
            s.shutdown(socket.SHUT_WR)  # all of it sent: the server need not wait for more
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    return out


def still_serving(sim):
    status, body = sim.client.json("GET", "/api", auth=None)
    assert status == 200 and body["api"] == 1


REQUEST_LINES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda m, p, v: b"%s %s %s" % (m, p, v),
              st.sampled_from([b"GET", b"POST", b"PATCH", b"", b"G\x00T", b"X" * 50]),
              st.binary(max_size=80), st.sampled_from([b"HTTP/1.1", b"HTTP/9", b"", b"\xff"])))
HEADERS = st.lists(st.one_of(st.binary(max_size=60),
                             st.builds(lambda k, v: k + b": " + v,
                                       st.sampled_from([b"Content-Length", b"Host", b"Cookie",
                                                        b"Authorization", b"Origin"]),
                                       st.binary(max_size=40))), max_size=40)


@settings(max_examples=120, deadline=None)
@given(line=REQUEST_LINES, headers=HEADERS, body=st.binary(max_size=100))
def test_any_request_is_answered_or_closed(sim, line, headers, body):
    data = b"\r\n".join([line] + headers) + b"\r\n\r\n" + body
    answer = exchange(sim.http_port, data, timeout=15)
    assert answer == b"" or answer.startswith(b"HTTP/1.0 "), answer[:80]


def test_malformed_and_oversized_requests_get_their_error(sim):
    port = sim.http_port
    for data, status in ((b"NONSENSE\r\n\r\n", b"400"), (b"GET / FTP/1.0\r\n\r\n", b"400"),
                         (b"GET / HTTP/1.1\r\nX: " + b"a" * 3000 + b"\r\n\r\n", b"431"),
                         (b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 40 + b"\r\n", b"431"),
                         (b"POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n" + b"x" * 9000,
                          b"413"),
                         (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400")):
        answer = exchange(port, data)
        assert answer.startswith(b"HTTP/1.0 " + status), (data[:30], answer[:60])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    answer = exchange(sim.https_port, b"PATCH /api/v1/config HTTP/1.1\r\nContent-Length: "
                      b"100000\r\n\r\n" + b"{" * 20000, tls_ctx=ctx)
    assert answer.startswith(b"HTTP/1.0 413") or answer == b""
    still_serving(sim)


def test_a_slow_sender_is_cut_off_and_others_are_served_meanwhile(sim):
    s = socket.create_connection(("127.0.0.1", sim.http_port), timeout=20)
    t0 = time.monotonic()
    try:
        for b in b"GET / HTTP/1.1\r\nHost: x\r\n":
            s.sendall(bytes([b]))
            still_serving(sim)
            time.sleep(0.3)
            if time.monotonic() - t0 > 12:
                break
        answer = s.recv(4096)
    except OSError:
        answer = b""
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.0 408") or answer == b""
    assert time.monotonic() - t0 < 14


def test_500_connections_opened_and_dropped_while_modbus_polls(sim):
    heap_before = sim.status()["heap"]["live"]
    stop = threading.Event()
    gaps = []

    def poll():
        c = ModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=3, retries=0)
        assert c.connect()
        last = time.monotonic()
        while not stop.is_set():
            assert not c.read_holding_registers(0x8016, count=2).isError()
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            time.sleep(0.1)
        c.close()

    poller = threading.Thread(target=poll)
    poller.start()

    def attack(port, n):
        for i in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                if i % 3 == 0:
                    s.sendall(b"GET / HTTP/1.1\r\n")
                s.close()
            except OSError:
                pass

    threads = [threading.Thread(target=attack, args=(port, 125))
               for port in (sim.https_port, sim.https_port, sim.http_port, sim.http_port)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    poller.join()
    still_serving(sim)
    assert max(gaps) < 1.0, max(gaps)
    st_ = sim.status_when(lambda s: s["web"]["https"]["active"] == 0)
    assert st_["web"]["https"]["connections"] + st_["web"]["http"]["connections"] >= 500
    assert st_["heap"]["live"] < heap_before + 16 * 1024
