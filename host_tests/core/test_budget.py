"""The socket budget adds up: every service's share together is the device's total."""
from net import budget


def test_shares_add_up_to_the_device_sockets():
    assert sum(budget.SHARES) == budget.SOCKETS
    assert budget.MODBUS_CLIENTS >= 4  # an EV charger and an energy manager, and more
