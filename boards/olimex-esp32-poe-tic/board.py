"""Olimex ESP32-POE as a Smart Connect TIC: the Linky TIC pair through an optocoupler
demodulator into GPIO36. Wiring: README.md."""
from hw import esp32
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
    address,
    boot,
    default_serial,
    dns_server,
    fatal,
    network_status,
    network_time,
    reset,
    reset_cause,
    set_clock,
    soft_reset,
    watchdog,
)

NAME = "olimex-esp32-poe-tic"
METER = "tic"

TIC_RX = 36  # optocoupler output, pulled up: idle high, so not inverted
UART_TX = 4  # the UART needs a TX pin; nothing is connected to it
LED_RED, LED_GREEN, LED_BLUE = 14, 15, 16
BUTTON = 34
ETH_MDC, ETH_MDIO, ETH_PHY_ADDR, ETH_POWER, ETH_CLOCK_OUT = 23, 18, 0, 12, 17

__all__ = ("CONFIG_PATH", "HOST", "HTTP_PORT", "HTTPS_PORT", "IDENTITY_DIR", "MDNS",
           "MODBUS_PORT", "RAW_PORT", "STATUS_EVERY", "address", "boot", "default_serial",
           "dns_server", "fatal", "network_status", "network_time", "reset", "reset_cause",
           "set_clock", "soft_reset", "watchdog")


def start_network(hostname):
    esp32.ethernet(hostname, ETH_MDC, ETH_MDIO, ETH_PHY_ADDR, power=ETH_POWER,
                   clock_out=ETH_CLOCK_OUT)


def meter_port():
    return esp32.MeterPort(1, TIC_RX, UART_TX, invert=False)
