"""The peer for benchmarks/modbus.py: a pymodbus async TCP server on CPython holding the
registers the firmware serves (passed as JSON: {address: [registers]}) in FC03 and FC04."""
import asyncio
import json
import sys

from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer


def main():
    port = int(sys.argv[1])
    regs = [0] * 0x10000
    for addr, values in json.loads(sys.argv[2]).items():
        regs[int(addr):int(addr) + len(values)] = values
    # pymodbus addresses data blocks from 1 for request address 0.
    block = ModbusSequentialDataBlock(1, regs)
    ctx = ModbusServerContext(devices=ModbusDeviceContext(hr=block, ir=block), single=True)
    asyncio.run(StartAsyncTcpServer(context=ctx, address=("127.0.0.1", port)))


if __name__ == "__main__":
    main()
