import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "core"), os.path.join(HERE, "..", "firmware", "lib")]


@pytest.fixture
def ca(tmp_path):
    """A test CA (tools/provision.py's functions) for the broker and the device."""
    from broker import CA

    return CA(str(tmp_path))


@pytest.fixture
def broker(tmp_path, ca):
    """A real mosquitto with a mutual-TLS and a password listener, signed by ca."""
    from broker import Broker

    b = Broker(tmp_path / "broker", ca)
    yield b
    b.close()


@pytest.fixture
def pty_pair(tmp_path):
    """(device end, master end) of a socat pseudo-terminal pair: an RS485 bus on the host."""
    from simfw import wait_until

    a, b = str(tmp_path / "rs485-device"), str(tmp_path / "rs485-master")
    proc = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b])
    wait_until(lambda: (tmp_path / "rs485-master").exists() and
               (tmp_path / "rs485-device").exists(), timeout=10)
    yield a, b
    proc.terminate()
    proc.wait(5)
