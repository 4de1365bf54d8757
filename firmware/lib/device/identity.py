"""The device identity (SPEC section 10), written by tools/provision.py into identity/:
kept apart from config.json so a factory reset or a corrupt config never touches it.

The firmware loads the DER files (the MicroPython TLS builds parse DER, not PEM); the PEM
copies beside them are for people and host tools.
"""
import json


class Identity:
    def __init__(self, folder, fallback_serial):
        """fallback_serial: the board's MAC, used when the device was never provisioned
        (it can then still serve Modbus and HTTP, but not authenticate to a broker)."""
        self.folder = folder
        self.serial = fallback_serial
        self.ap_key = None
        self.api_password = None
        self.error = None
        try:
            with open(folder + "/identity.json") as f:
                d = json.load(f)
            self.serial = d["serial"]
            self.ap_key = d["ap_key"]
            self.api_password = d["api_password"]
        except (OSError, ValueError, KeyError, TypeError):
            self.error = "no device identity in %s (run tools/provision.py)" % folder

    def path(self, name):
        return self.folder + "/" + name

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()
