"""Just enough of the ESP32 port's machine module to run the hardware layer and the
board modules on the unix port (host_tests/test_esp32_layer.py). Every call that matters
on the device is printed as one `hw:` line, in order, for the test to read."""
import os


def _log(*args):
    print("hw:", *args)


class WDT:
    def __init__(self, id=0, timeout=5000):
        _log("WDT", timeout)

    def feed(self):
        pass


class Pin:
    IN, OUT = 1, 3
    PULL_UP = 2

    def __init__(self, n, mode=None, pull=None, value=None):
        self.n = n
        if mode is not None:
            _log("Pin", n, mode, value)

    def value(self, v=None):
        if v is None:
            return int(os.getenv("FAKE_PIN_%d" % self.n, "1"))
        _log("Pin.value", self.n, v)


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        _log("PWM", pin.n, freq, duty_u16)
        self.n = pin.n

    def duty_u16(self, d):
        _log("PWM.duty", self.n, d)


class UART:
    INV_RX, INV_TX = 4, 32

    def __init__(self, uart_id, **kw):
        # The ESP32 port installs the driver at construction: without pins, UART(1) takes
        # GPIO 9 and 10, the flash of a no-PSRAM module.
        if "rx" not in kw or "tx" not in kw:
            _log("UART", uart_id, "default pins 9/10: the flash")
        _log("UART", uart_id, "rx", kw.get("rx"), "tx", kw.get("tx"), "rxbuf",
             kw.get("rxbuf", 256), "txbuf", kw.get("txbuf", 256))

    def init(self, **kw):
        _log("UART.init", kw.get("baudrate"), kw.get("invert"), "tx" in kw or "rx" in kw,
             kw.get("bits"), kw.get("parity"), kw.get("stop"))

    def any(self):
        return 0

    def txdone(self):
        return True

    def ioctl(self, req, arg):
        return 0

    def write(self, data):
        _log("UART.write", len(data))
        return len(data)


class RTC:
    def datetime(self, dt):
        _log("RTC", dt)

    def memory(self, data=None):
        """Kept across a reset on the ESP32: here a file in the current directory, which
        the next run (the next start) reads."""
        if data is None:
            try:
                with open("rtc-memory", "rb") as f:
                    return f.read()
            except OSError:
                return b""
        _log("RTC.memory", bytes(data))
        with open("rtc-memory", "wb") as f:
            f.write(data)


def freq(hz):
    pass


def unique_id():
    return b"\x24\x0a\xc4\x12\x34\x56"


def reset():
    _log("reset")
    raise SystemExit(int(os.getenv("FAKE_RESET_EXIT", "99")))


PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5


def reset_cause():
    return PWRON_RESET


def soft_reset():
    _log("soft_reset")
    raise SystemExit(98)
