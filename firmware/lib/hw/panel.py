"""The ESP32's button and RGB LED, as the board wires them (device/panel.py decides what
they do). The LED is three PWM pins (common anode: a pin low lights its colour; common
cathode: high) or one WS2812."""
from machine import PWM, Pin

_PWM_HZ = 1000


class Button:
    """A push button to ground (pressed = low); pull_up: the ESP32's own (GPIOs 34-39 have
    none: those boards need an external pull-up)."""

    def __init__(self, pin, pull_up=False):
        self._pin = Pin(pin, Pin.IN, Pin.PULL_UP) if pull_up else Pin(pin, Pin.IN)

    def pressed(self):
        return self._pin.value() == 0

    def poll(self, debouncer, now):
        return debouncer.sample(self._pin.value() == 0, now)


class RgbLed:
    def __init__(self, pins, common_anode):
        self._anode = common_anode
        off = 65535 if common_anode else 0
        self._pwm = [PWM(Pin(p), freq=_PWM_HZ, duty_u16=off) for p in pins]

    def show(self, r, g, b):
        for pwm, v in zip(self._pwm, (r, g, b)):
            d = v * 257
            pwm.duty_u16(65535 - d if self._anode else d)


class PixelLed:
    """One WS2812 (GRB order is the driver's business: neopixel takes RGB)."""

    def __init__(self, pin):
        from neopixel import NeoPixel

        self._px = NeoPixel(Pin(pin, Pin.OUT), 1)

    def show(self, r, g, b):
        self._px[0] = (r, g, b)
        self._px.write()
