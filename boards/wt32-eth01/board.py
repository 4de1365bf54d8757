"""WT32-ETH01 (ESP32 + LAN8720, PHY address 1, 50 MHz clock from the PHY on GPIO0) as a
Smart Connect P1/A1. Wiring: README.md."""
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

NAME = "wt32-eth01"
METER = "p1"

P1_RX = 36  # input only; P1 data (pin 5) through the open-collector input stage
P1_REQUEST = 4  # P1 data request (pin 2), driven high
P1_OUT_TX = 14  # P1 out data (pin 5 of the second RJ12)
# RGB LED, common cathode (a pin high lights it): GPIO15 is a strapping pin, 19-27 RMII.
LED_RED, LED_GREEN, LED_BLUE = 32, 33, 17
LED_COMMON_ANODE = False
BUTTON = 39  # input only, external pull-up, pressed = low
ETH_MDC, ETH_MDIO, ETH_PHY_ADDR, ETH_POWER = 23, 18, 1, 16
ETH_CLOCK_OUT = None  # the PHY drives the clock into GPIO0
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
    return esp32.MeterPort(1, P1_RX, P1_OUT_TX, request=P1_REQUEST, p1_out=True)
