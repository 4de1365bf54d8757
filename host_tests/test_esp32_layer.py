"""The ESP32 hardware layer and a board module, run on the unix port against a stand-in
for the port's machine and network modules (host_tests/esp32/): failures while booting,
importing or starting the network restart the board instead of leaving it at the REPL,
the watchdog is armed first, the UART gets its pins and buffers at construction, and the
hostname is set before the interface starts (it is taken only then)."""
import os
import subprocess

import microdot

from tools import MICROPYTHON, ROOT

BOARD = "wt32-eth01"


def run(tmp_path, code, env=None, first=(), board=BOARD):
    path = list(first) + [os.path.join(ROOT, p) for p in (
        "host_tests/esp32", "boards/" + board, "firmware", "firmware/lib")] + [
        os.path.dirname(os.path.dirname(microdot.__file__)), ".frozen"]
    # The firmware is compiled from source here: its 64-bit bytecode sits in this heap
    # (frozen on the device), and a framer needs 6 KB in one piece after it.
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=1m", "-c", code], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, env=dict(os.environ, MICROPYPATH=os.pathsep.join(path),
                                        **(env or {})))
    hw = [line[4:] for line in proc.stdout.splitlines() if line.startswith("hw: ")]
    return proc.returncode, hw, proc.stdout + proc.stderr


def test_a_firmware_that_cannot_be_imported_restarts_the_board(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "app.py").write_text("raise MemoryError('memory allocation failed')\n")
    rc, hw, out = run(tmp_path, "import boot; import main", first=[str(broken)])
    assert hw[0] == "WDT 30000", out  # armed before anything else can fail
    assert hw[-1] == "reset" and rc == 99, out
    assert "MemoryError" in out


def test_an_ethernet_phy_that_does_not_answer_restarts_the_board(tmp_path):
    rc, hw, out = run(tmp_path, "import boot; import main", env={"FAKE_PHY": "dead"})
    assert hw[0] == "WDT 30000" and hw[-1] == "reset" and rc == 99, out
    assert "ESP_ERR_INVALID_STATE" in out


def test_uart_pins_and_buffers_at_construction_hostname_before_the_interface(tmp_path):
    rc, hw, out = run(tmp_path, "import board; board.meter_port(); "
                                "board.start_network('smart-connect-240ac4123456')")
    assert rc == 0, out
    assert hw[0] == "UART 1 rx 36 tx 14 rxbuf 4096 txbuf 4096", out
    assert hw[-1] == "LAN.active True hostname smart-connect-240ac4123456", out


def test_the_rtc_gets_the_calendar_date_of_the_unix_time(tmp_path):
    rc, hw, out = run(tmp_path, "import board; board.set_clock(1700000000)")
    assert rc == 0 and hw == ["RTC (2023, 11, 14, 2, 22, 13, 20, 0)"], out


def test_the_p1mb_drives_the_rs485_bus_only_while_it_answers(tmp_path):
    rc, hw, out = run(tmp_path, "import asyncio, board; p = board.rs485(); "
                                "board.leds().show((True, False, True)); "
                                "p.configure((9600, 8, 0, 1)); "
                                "asyncio.run(p.write(bytearray(9), 9))",
                      board="esp32-devkitc-p1mb")
    assert rc == 0, out
    assert hw == ["UART 2 rx 16 tx 17 rxbuf 512 txbuf 512", "Pin 18 3 0",
                  "Pin 25 3 0", "Pin 26 3 0", "Pin 27 3 0",
                  "Pin 25 value 1", "Pin 26 value 0", "Pin 27 value 1",
                  "UART.init 9600 None False 8 0 1",  # 8E1 (parity 0: even)
                  "Pin 18 value 1", "UART.write 9", "Pin 18 value 0"], out
