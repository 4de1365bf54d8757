"""The firmware version, reported in the status, MQTT discovery and the HTTP API."""
VERSION = "0.4.0"
