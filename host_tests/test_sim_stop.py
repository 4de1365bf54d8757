"""tools/sim.py stops cleanly: SIGTERM or SIGINT, in the foreground or in the background
(where a shell starts it with SIGINT ignored), stops the firmware and the meter simulator
and frees every port within 2 s; `make sim`, Ctrl-C, `make sim` again works."""
import os
import signal
import socket
import subprocess
import sys
import time

from simfw import free_ports
from tools import ROOT

STOP_S = 2


def _sim_args(tmp):
    ports = free_ports(4)
    v5 = os.path.join(ROOT, "corpus", "dsmr", "v5.txt")
    args = ["--flash", str(tmp / "flash"), "--meter", v5]
    for opt, port in zip(("--modbus-port", "--raw-port", "--p1-out-port", "--meter-port"), ports):
        args += [opt, str(port)]
    return args, ports


def _wait_up(proc):
    for line in proc.stdout:
        if line.startswith("sim up:"):
            return
    raise AssertionError("sim did not come up (exit %s)" % proc.wait())


def _bindable(port):
    """The port can be listened on again, as the next firmware's listener would."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _all_free(ports):
    end = time.monotonic() + STOP_S
    while not all(_bindable(p) for p in ports):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def _stop_in_background(tmp, sig):
    args, ports = _sim_args(tmp)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tools", "sim.py")] + args,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `sim.py &`
    try:
        _wait_up(proc)
        assert not any(_bindable(p) for p in ports)  # the firmware holds them
        t0 = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(STOP_S)
        assert _all_free(ports), "a port is still bound after %s" % sig.name
        assert time.monotonic() - t0 <= STOP_S
        assert rc == 128 + sig
        assert "stopped by %s" % sig.name in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_in_the_background_stops_everything(tmp_path):
    _stop_in_background(tmp_path, signal.SIGTERM)


def test_sigint_in_the_background_stops_everything(tmp_path):
    _stop_in_background(tmp_path, signal.SIGINT)


def test_make_sim_ctrl_c_then_make_sim_again(tmp_path):
    args, ports = _sim_args(tmp_path)
    for _ in range(2):
        proc = subprocess.Popen(["make", "-s", "sim", "SIM_ARGS=" + " ".join(args)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            _wait_up(proc)
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
            proc.wait(STOP_S + 3)
            assert _all_free(ports)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
