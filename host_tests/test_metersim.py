"""tools/metersim.py: frames cut from captures as sent, protocol intervals, valid
synthetic telegrams, and the command line against a listening socket."""
import os
import socket
import subprocess
import sys

from meter.decoder import Decoder
from simfw import metersim
from support import corpus, corpus_names
from tools import ROOT


def test_captures_split_into_whole_frames_with_their_protocol_pacing():
    for name in corpus_names("dsmr") + corpus_names("tic"):
        data = corpus(name)
        frames = metersim.split(data)
        assert b"".join(frames) == data and len(frames) == 1
    v5 = metersim.split(corpus("dsmr/v5.txt"))[0]
    assert metersim.pacing(v5) == (1.0, None)
    assert metersim.pacing(metersim.split(corpus("dsmr/v4_2.txt"))[0]) == (10.0, None)
    assert metersim.pacing(metersim.split(corpus("dsmr/v2_2.txt"))[0]) == (10.0, None)
    hist = metersim.split(corpus("tic/linky_historique_1ph_hekmon.bin"))[0]
    std = metersim.split(corpus("tic/linky_standard_1ph_hekmon.bin"))[0]
    assert metersim.pacing(hist) == (0.0, 120) and metersim.pacing(std) == (0.0, 960)
    # Noise between two telegrams stays with the second one.
    assert metersim.split(v5 + b"\x00noise" + v5) == [v5, b"\x00noise" + v5]


def test_synthetic_telegrams_are_valid_and_consistent():
    readings = []
    dec = Decoder(lambda r, raw, buf, n: readings.append(r))
    for t in metersim.synthetic(20, seed=5):
        dec.feed(t, 0)
    assert len(readings) == 20 and dec.rejected == 0
    for r in readings:
        assert r["power_w"] == r["power_l1_w"] + r["power_l2_w"] + r["power_l3_w"]
    assert len({r["power_w"] for r in readings}) > 15


def test_command_line_sends_count_frames():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "metersim.py"),
                             "--port", str(port), "--interval", "0", "--count", "3",
                             os.path.join(ROOT, "corpus", "dsmr", "v5.txt")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    conn, _ = srv.accept()
    got = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    assert proc.wait(20) == 0 and "1 frames" in proc.stdout.read()
    assert got == corpus("dsmr/v5.txt") * 3
    conn.close()
    srv.close()
