"""mDNS with a real client: the firmware on the sim (tools/sim.py --mdns) and
python-zeroconf in a network namespace the test makes (root only: CI runs as root), all on
one end of a veth pair (multicast loops back to every socket on the host, as between
devices on a LAN). The client resolves both names and browses _http._tcp;
of two sims on one LAN both keep their own names and exactly one holds the shared one.
One sim runs on the device gauge with the device's heap, the other on the unix port."""
import glob
import json
import os
import subprocess
import sys

import pytest
from test_esp32_layer import run

from simfw import Sim
from tools import ROOT

NET = "10.213.0."
CLIENT = NET + "9"



@pytest.fixture
def netns():
    """A network namespace with lo and a veth interface holding the sims' and the
    client's addresses; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a network namespace needs root (CI runs as root)")
    name = "sc-mdns-%d" % os.getpid()
    steps = [["ip", "netns", "add", name],
             ["ip", "-n", name, "link", "set", "lo", "up"],
             ["ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
             ["ip", "-n", name, "link", "set", "v1", "up"],
             ["ip", "-n", name, "link", "set", "v0", "multicast", "on", "up"]]
    steps += [["ip", "-n", name, "addr", "add", NET + h + "/24", "dev", "v0"]
              for h in ("1", "2", "9")]
    steps.append(["ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "v0"])
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        pytest.skip("no network namespace here: %s" % getattr(e, "stderr", e))
    yield name
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _client(ns, *args):
    proc = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                           os.path.join(ROOT, "host_tests", "mdns_client.py"), CLIENT] +
                          list(args), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _sim(ns, flash, host, *args):
    return Sim(flash, prefix=["ip", "netns", "exec", ns],
               args=["--host", host, "--mdns", *args])


def _serial(sim):
    return sim.status()["device"]["serial"]


def test_zeroconf_resolves_both_names_and_browses_the_service(netns, tmp_path):
    with _sim(netns, tmp_path / "a", NET + "1", "--frozen32", "--heap", "64k") as a:
        st = a.status_when(lambda s: s["mdns"]["shared"] == "claimed")
        assert st["mdns"]["address"] == NET + "1"
        serial = _serial(a)
        host = "smart-connect-%s.local" % serial.lower()
        got = _client(netns, "--resolve", host, "smart-connect.local", "--browse", "_http._tcp")
        assert got["names"] == {host: [NET + "1"], "smart-connect.local": [NET + "1"]}
        assert got["services"] == {"Smart Connect %s._http._tcp.local." % serial: {
            "server": host + ".", "port": a.https_port, "addresses": [NET + "1"],
            "txt": {"serial": serial, "product": "Smart Connect", "path": "/api/v1"}}}
        assert a.status()["mdns"]["answered"] > 0


def test_two_sims_keep_their_own_names_and_one_holds_the_shared(netns, tmp_path):
    with _sim(netns, tmp_path / "a", NET + "1") as a, \
            _sim(netns, tmp_path / "b", NET + "2") as b:
        sims = {NET + "1": a, NET + "2": b}
        states = {}
        for ip, sim in sims.items():
            st = sim.status_when(lambda s: s["mdns"]["shared"] in ("claimed", "lost"))
            states[ip] = st["mdns"]["shared"]
        assert sorted(states.values()) == ["claimed", "lost"], states
        holder = [ip for ip, s in states.items() if s == "claimed"][0]
        names = {"smart-connect-%s.local" % _serial(sim).lower(): ip for ip, sim in sims.items()}
        got = _client(netns, "--resolve", *names, "smart-connect.local",
                      "--browse", "_http._tcp", "--count", "2")
        assert got["names"] == dict({n: [ip] for n, ip in names.items()},
                                    **{"smart-connect.local": [holder]})
        assert {s["addresses"][0]: s["port"] for s in got["services"].values()} == {
            ip: sim.https_port for ip, sim in sims.items()}
        # still so a few announcements later: the second device does not fight
        for ip, sim in sims.items():
            assert sim.status()["mdns"]["shared"] == states[ip]


def test_the_esp32_images_leave_port_5353_to_our_responder():
    """MicroPython's own mDNS (the IDF component, started on a Wi-Fi station's first
    address) is compiled out of every board image: it would bind 5353 beside ours."""
    boards = glob.glob(os.path.join(ROOT, "boards", "*", "mpconfigboard.h"))
    assert len(boards) >= 3
    for path in boards:
        with open(path) as f:
            text = f.read()
        for flag in ("MICROPY_HW_ENABLE_MDNS_QUERIES", "MICROPY_HW_ENABLE_MDNS_RESPONDER"):
            assert "#define %s (0)" % flag in text, (path, flag)


def test_the_esp32_boards_run_our_responder(tmp_path):
    """On the stand-in: the board asks for it (it announces the network manager's
    address, which the manager's own tests follow)."""
    rc, _, out = run(tmp_path, "import board; print('mdns', board.MDNS)")
    assert rc == 0 and "mdns True" in out, out
