"""An ESP32-DevKitC (WROOM-32, no PSRAM) with a MAX3485 RS485 module as a P1MB: reads
P1 and serves the templates as a Modbus RTU slave on RS485 (SPEC section 5). Wiring:
README.md. No pin used is a strapping pin (0, 2, 5, 12, 15) or the flash's (6-11)."""
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
from hw.rs485 import Leds, Rs485Port

NAME = "esp32-devkitc-p1mb"
METER = "p1"

P1_RX = 36  # input only; P1 data (pin 5) through the open-collector input stage
P1_REQUEST = 4  # P1 data request (pin 2), driven high
P1_TX = 33  # the meter UART's TX: not connected (a P1MB has no P1 out)
RS485_RX, RS485_TX, RS485_DE = 16, 17, 18  # MAX3485 RO, DI, DE + /RE
LED_PWR, LED_P1, LED_485 = 25, 26, 27  # yellow, green, red, each through 330 ohms to GND

ETH = None  # no Ethernet: a P1MB serves RS485, and Wi-Fi when configured (DefaultNetIf WiFi)

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
    return None  # none on this module


def led():
    return None  # its three LEDs are the RS485 class's own (leds())


def meter_port():
    return esp32.MeterPort(1, P1_RX, P1_TX, request=P1_REQUEST)


def rs485():
    return Rs485Port(2, RS485_RX, RS485_TX, RS485_DE)


def leds():
    return Leds((LED_PWR, LED_P1, LED_485))
