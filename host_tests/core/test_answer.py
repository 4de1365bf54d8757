"""Answers written in pieces through the shared output buffer (web/answer): the bytes a
client receives are a complete HTTP answer whose Content-Length is right, and no single
write is larger than the buffer when no member of the value is."""
import asyncio
import json

from device.outbuf import Out
from web import answer

BUF = 1024


class Writer:
    """An asyncio stream writer's interface, keeping every write apart."""

    def __init__(self):
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))

    async def drain(self):
        await asyncio.sleep(0)

    def data(self):
        return b"".join(self.writes)


class Res:
    def __init__(self, body, status=200, headers=None):
        self.body = body
        self.status_code = status
        self.headers = headers or {}


def send(res, keep=True, head_only=False):
    w = Writer()
    asyncio.run(answer.send(w, Out(BUF), res, "OK", keep, head_only))
    return w


def split(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(": ")
        headers[k] = v
    return lines[0], headers, body


def status_like():
    return {"meter": {"valid": 12345, "rejected": 0, "last_error": None, "age_ms": 812,
                      "fresh": True, "protocol": "dsmr"},
            "modbus": {"unmapped_top": [{"address": a, "reads": a * 3}
                                        for a in range(0, 4000, 500)], "template": "SDM630"},
            "text": "quote \" backslash \\ tab \t and 230.1 V", "f": 0.1, "none": None,
            "list": list(range(150))}


def test_a_json_answer_has_its_exact_length_and_goes_out_in_pieces():
    value = status_like()
    w = send(Res(answer.Json(value), headers={"Cache-Control": "no-store"}))
    line, headers, body = split(w.data())
    assert line == "HTTP/1.0 200 OK"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == value
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Connection"] == "keep-alive"
    assert headers["X-Frame-Options"] == "DENY"
    assert len(w.writes) > 2
    assert max(len(x) for x in w.writes) <= BUF


def test_a_json_value_may_be_given_by_a_function_called_once():
    calls = []

    def value():
        calls.append(1)
        return [{"n": i} for i in range(40)]

    _, headers, body = split(send(Res(answer.Json(value))).data())
    assert calls == [1]
    assert json.loads(body) == [{"n": i} for i in range(40)]
    assert int(headers["Content-Length"]) == len(body)


def test_a_small_body_goes_out_with_the_head_in_one_write():
    w = send(Res(b"hello", 200, {"Content-Type": "text/plain"}), keep=False)
    assert len(w.writes) == 1
    _, headers, body = split(w.data())
    assert body == b"hello" and headers["Connection"] == "close"
    assert headers["Content-Type"] == "text/plain"


def test_a_large_body_goes_out_in_slices():
    big = bytes(range(256)) * 40
    w = send(Res(big, headers={"Content-Type": "application/javascript"}))
    _, headers, body = split(w.data())
    assert body == big and int(headers["Content-Length"]) == len(big)
    assert max(len(x) for x in w.writes) <= answer.SLICE


def test_head_gives_the_length_without_the_body():
    _, headers, body = split(send(Res(answer.Json({"a": 1})), head_only=True).data())
    assert body == b"" and headers["Content-Length"] == "8"


def test_an_empty_body_has_no_content_type():
    _, headers, body = split(send(Res(b"", 204)).data())
    assert body == b"" and headers["Content-Length"] == "0"
    assert "Content-Type" not in headers


def test_the_short_heap_answer_needs_no_heap_to_build_and_says_when_to_retry():
    w = Writer()
    asyncio.run(answer.short(w, Out(BUF), True))
    line, headers, body = split(w.data())
    assert line == "HTTP/1.0 503 Service Unavailable"
    assert headers["Retry-After"] == "1"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body)["error"] == "heap:short"


def test_answers_written_at_once_share_the_buffer_without_mixing():
    """Several connections answer at the same time through one buffer: each writer gets
    its own answer, whole."""
    out = Out(BUF)
    values = [{"n": i, "items": [{"k": j, "text": "x" * (i * 7 % 50)} for j in range(60)],
               "large": ["y" * 700, "z" * 1500]} for i in range(4)]
    writers = [Writer() for _ in values]

    stream = Writer()

    async def events():
        """As web/events.py writes a message: clear, fill, write, then wait."""
        for i in range(40):
            out.clear(stream)
            out.write(b"event %d;" % i)
            stream.write(out.view())
            await stream.drain()

    async def main():
        await asyncio.gather(events(), *[answer.send(w, out, Res(answer.Json(v)), "OK", True)
                                         for w, v in zip(writers, values)])

    asyncio.run(main())
    assert stream.data() == b"".join(b"event %d;" % i for i in range(40))
    for w, v in zip(writers, values):
        _, headers, body = split(w.data())
        assert json.loads(body) == v
        assert int(headers["Content-Length"]) == len(body)
