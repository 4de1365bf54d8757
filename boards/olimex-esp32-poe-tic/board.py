"""Olimex ESP32-POE as a Smart Connect TIC: the Linky TIC pair through an optocoupler
demodulator into GPIO36. Wiring: README.md."""
from hw import esp32, netif
from hw.esp32 import (
    CONFIG_PATH,
    HOST,
    HTTP_PORT,
    HTTPS_PORT,
    IDENTITY_DIR,
    MDNS,
    MODBUS_PORT,
    RAW_PORT,
    STATUS_EVERY,
    default_serial,
    dns_server,
    fatal,
    halted,
    network_time,
    reset,
    reset_cause,
    set_clock,
    soft_reset,
    watchdog,
)
from hw.panel import Button, RgbLed

NAME = "olimex-esp32-poe-tic"
METER = "tic"

TIC_RX = 36  # optocoupler output, pulled up: idle high, so not inverted
UART_TX = 4  # the UART needs a TX pin; nothing is connected to it
# RGB LED, common cathode (a pin high lights it): GPIO15 is a strapping pin, 16/17 the
# PHY clock.
LED_RED, LED_GREEN, LED_BLUE = 32, 33, 14
LED_COMMON_ANODE = False
BUTTON = 34
ETH_MDC, ETH_MDIO, ETH_PHY_ADDR, ETH_POWER, ETH_CLOCK_OUT = 23, 18, 0, 12, 17
ETH = {"mdc": ETH_MDC, "mdio": ETH_MDIO, "phy_addr": ETH_PHY_ADDR, "power": ETH_POWER,
       "clock_out": ETH_CLOCK_OUT}

__all__ = ("CONFIG_PATH", "HOST", "HTTP_PORT", "HTTPS_PORT", "IDENTITY_DIR", "MDNS",
           "MODBUS_PORT", "RAW_PORT", "STATUS_EVERY", "default_serial", "dns_server", "fatal",
           "halted", "network_time", "reset", "reset_cause", "set_clock", "soft_reset",
           "watchdog")


def boot():
    """The watchdog, then the interfaces, before main.py's imports (hw/netif.py)."""
    if esp32.boot():
        netif.make(ETH)


def network(hostname, ap_ssid, ap_key):
    return netif.EspNet(hostname, ETH, ap_ssid, ap_key)


def button():
    return Button(BUTTON)


def led():
    return RgbLed((LED_RED, LED_GREEN, LED_BLUE), LED_COMMON_ANODE)


def meter_port():
    return esp32.MeterPort(1, TIC_RX, UART_TX, invert=False)
