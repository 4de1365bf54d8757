"""WT32-ETH01 (ESP32 + LAN8720, PHY address 1, 50 MHz clock from the PHY on GPIO0) as a
Smart Connect P1/A1. Wiring: README.md."""
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

NAME = "wt32-eth01"
METER = "p1"

P1_RX = 36  # input only; P1 data (pin 5) through the open-collector input stage
P1_REQUEST = 4  # P1 data request (pin 2), driven high
P1_OUT_TX = 14  # P1 out data (pin 5 of the second RJ12)
LED_RED, LED_GREEN, LED_BLUE = 15, 32, 33
BUTTON = 39  # input only, external pull-up, pressed = low
ETH_MDC, ETH_MDIO, ETH_PHY_ADDR, ETH_POWER = 23, 18, 1, 16

__all__ = ("CONFIG_PATH", "HOST", "HTTP_PORT", "HTTPS_PORT", "IDENTITY_DIR", "MDNS",
           "MODBUS_PORT", "RAW_PORT", "STATUS_EVERY", "address", "boot", "default_serial",
           "dns_server", "fatal", "network_status", "network_time", "reset", "reset_cause",
           "set_clock", "soft_reset", "watchdog")


def start_network(hostname):
    esp32.ethernet(hostname, ETH_MDC, ETH_MDIO, ETH_PHY_ADDR, power=ETH_POWER)


def meter_port():
    return esp32.MeterPort(1, P1_RX, P1_OUT_TX, request=P1_REQUEST, p1_out=True)
