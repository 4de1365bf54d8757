"""Runs on the MicroPython unix port: reads the firmware with the umodbus (micropython-modbus)
TCP client and prints the registers, one line per read."""
import sys

from umodbus.tcp import TCP

port = int(sys.argv[1])
client = TCP(slave_ip="127.0.0.1", slave_port=port, timeout=5)
for addr in (0x8006, 0x8016, 0x801E, 0x8100):
    print(list(client.read_holding_registers(slave_addr=1, starting_addr=addr,
                                             register_qty=6, signed=False)))
print(list(client.read_input_registers(slave_addr=247, starting_addr=0x8006, register_qty=6,
                                       signed=False)))
