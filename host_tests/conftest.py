import os
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
