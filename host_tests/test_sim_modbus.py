"""The real firmware (tools/sim.py on the unix port) read by pymodbus: every template,
every corpus file, exceptions, unit ids and staleness."""
import socket
import struct

import pytest
from pymodbus.client import ModbusTcpClient

from modbus import registers
from simfw import Sim, metersim, wait_until
from support import corpus, corpus_names, parse_one

# Register maps as SPEC section 4 states them: address -> (reading key, scale).
_PHASES = ("l1", "l2", "l3")
EMPRO = {0x800C: ("hz", 1), 0x8016: ("power_w", 1), 0x8100: ("energy_import_kwh", 1000),
         0x8106: ("energy_export_kwh", 1000)}
SDM630 = {0x0034: ("power_w", 1), 0x0046: ("hz", 1), 0x0048: ("energy_import_kwh", 1),
          0x004A: ("energy_export_kwh", 1), 0x0156: ("energy_total_kwh", 1)}
PRO380 = {0x5008: ("hz", 1), 0x5012: ("power_w", 0.001), 0x600C: ("energy_import_kwh", 1),
          0x6018: ("energy_export_kwh", 1)}
# (map, first voltage, first current, first phase power, power scale)
for regmap, v, c, p, scale in ((EMPRO, 0x8006, 0x800E, 0x801E, 1),
                               (SDM630, 0x0000, 0x0006, 0x000C, 1),
                               (PRO380, 0x5002, 0x500C, 0x5014, 0.001)):
    for i, ph in enumerate(_PHASES):
        regmap[v + 2 * i] = ("voltage_%s_v" % ph, 1)
        regmap[c + 2 * i] = ("current_%s_a" % ph, 1)
        regmap[p + 2 * i] = ("power_%s_w" % ph, scale)
# template -> (map, CDAB word order, function code the real meter uses)
TEMPLATES = {"PhoenixContact-EMPro": (EMPRO, True, 3), "Eastron-SDM630": (SDM630, False, 4),
             "Inepro-PRO380": (PRO380, False, 3)}


def expected(r, key, scale):
    if key == "hz":
        return 50.0
    if key == "energy_total_kwh":
        v = (r["energy_import_kwh"] or 0) + (r["energy_export_kwh"] or 0)
    elif key.startswith("power_l"):  # they sum to the total (issue 14, test_templates.py)
        v = registers.phase_powers(r)[int(key[7]) - 1]
    else:
        v = r[key]
    return struct.unpack(">f", struct.pack(">f", (v or 0) * scale))[0]


def f32(regs, cdab):
    hi, lo = (regs[1], regs[0]) if cdab else (regs[0], regs[1])
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def read(client, fc, addr, count, unit=1):
    fn = client.read_holding_registers if fc == 3 else client.read_input_registers
    rr = fn(addr, count=count, device_id=unit)
    assert not rr.isError(), rr
    return rr.registers


def values(client, regmap, cdab, fc):
    return {a: f32(read(client, fc, a, 2), cdab) for a in regmap}


@pytest.mark.parametrize("template", list(TEMPLATES))
@pytest.mark.parametrize("kind", ["dsmr", "tic"])
def test_every_corpus_file_reads_back_through_every_template(tmp_path, template, kind):
    regmap, cdab, fc = TEMPLATES[template]
    with Sim(tmp_path, {"MeterType": template}, input="p1" if kind == "dsmr" else "tic") as sim:
        client = ModbusTcpClient("127.0.0.1", port=sim.modbus_port)
        assert client.connect()
        for name in corpus_names(kind):
            r = parse_one(name)
            want = {a: expected(r, *regmap[a]) for a in regmap}
            m = sim.meter(metersim.split(corpus(name)), interval=0, loop=False)
            wait_until(lambda: values(client, regmap, cdab, fc) == want, timeout=10)  # noqa: B023
            m.close()
            # FC03 and FC04 answer the same, unit ids are ignored.
            first = min(regmap)
            block = read(client, 3, first, 24)
            assert read(client, 4, first, 24) == block
            assert read(client, 3, first, 24, unit=0) == block
            assert read(client, 4, first, 24, unit=247) == block
        client.close()


def test_exceptions_unmapped_zeros_and_staleness(tmp_path):
    frames = metersim.synthetic(50)
    with Sim(tmp_path, {"Modbus": {"StaleAfter": 2}}) as sim:
        client = ModbusTcpClient("127.0.0.1", port=sim.modbus_port)
        assert client.connect()
        m = sim.meter(frames, interval=0.2)
        wait_until(lambda: read(client, 3, 0x8016, 2) != [0, 0])
        assert read(client, 3, 0x0000, 125) == [0] * 125
        assert read(client, 4, 0xFF83, 125) == [0] * 125
        assert read(client, 3, 0x8024, 2) == [0, 0]
        rr = client.write_register(0x8016, 1)
        assert rr.isError() and rr.exception_code == 1
        # pymodbus will not send these: a raw socket does.
        with socket.create_connection(("127.0.0.1", sim.modbus_port), timeout=5) as s:
            for tid, count in ((1, 0), (2, 126)):
                s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0x8016, count))
                assert s.recv(64) == struct.pack(">HHHBBB", tid, 0, 3, 1, 0x83, 3)
        # The meter stops: after StaleAfter the charger gets 0x0B, then values again.
        m.pause()
        rr = wait_until(lambda: (lambda x: x if x.isError() else None)(
            client.read_holding_registers(0x8016, count=2)), timeout=5)
        assert rr.exception_code == 0x0B
        assert client.read_input_registers(0x0000, count=2).exception_code == 0x0B
        m.resume()
        wait_until(lambda: not client.read_holding_registers(0x8016, count=2).isError())
        client.close()
