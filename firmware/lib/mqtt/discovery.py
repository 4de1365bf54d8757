"""Home Assistant MQTT discovery (retained config messages under homeassistant/), so the
meter's sensors appear with the right device class, unit and state class."""
# key, name, device class, unit, state class, counter (published on the counters topic)
SENSORS = (
    ("power_w", "Power", "power", "W", "measurement", False),
    ("power_import_w", "Power import", "power", "W", "measurement", False),
    ("power_export_w", "Power export", "power", "W", "measurement", False),
    ("power_l1_w", "Power L1", "power", "W", "measurement", False),
    ("power_l2_w", "Power L2", "power", "W", "measurement", False),
    ("power_l3_w", "Power L3", "power", "W", "measurement", False),
    ("voltage_l1_v", "Voltage L1", "voltage", "V", "measurement", False),
    ("voltage_l2_v", "Voltage L2", "voltage", "V", "measurement", False),
    ("voltage_l3_v", "Voltage L3", "voltage", "V", "measurement", False),
    ("current_l1_a", "Current L1", "current", "A", "measurement", False),
    ("current_l2_a", "Current L2", "current", "A", "measurement", False),
    ("current_l3_a", "Current L3", "current", "A", "measurement", False),
    ("avg_demand_w", "Average demand", "power", "W", "measurement", False),
    ("energy_import_kwh", "Energy import", "energy", "kWh", "total_increasing", True),
    ("energy_export_kwh", "Energy export", "energy", "kWh", "total_increasing", True),
    ("gas_m3", "Gas", "gas", "m³", "total_increasing", True),
    ("water_m3", "Water", "water", "m³", "total_increasing", True),
)


def messages(serial, topics, model, version, r):
    """(topic, config) pairs, one at a time, for the sensors reading r has: a meter
    without voltages gets no voltage entities. config: the payload as a dict, which the
    publisher writes as JSON straight into its packet (no fresh string of ~650 bytes for
    each, at every reconnect). topics: the publisher's (instantaneous, counters, status)
    topics."""
    device = {"identifiers": ["smart-connect-" + serial], "name": "Smart Connect " + serial,
              "manufacturer": "Smart Connect", "model": model, "sw_version": version,
              "serial_number": serial}
    for key, name, dev_class, unit, state_class, counter in SENSORS:
        if r[key] is None:
            continue
        yield "homeassistant/sensor/%s/%s/config" % (serial, key), {
            "name": name, "unique_id": "sc_%s_%s" % (serial, key),
            "state_topic": topics[1] if counter else topics[0],
            "value_template": "{{ value_json.%s }}" % key,
            "device_class": dev_class, "unit_of_measurement": unit,
            "state_class": state_class, "availability_topic": topics[2],
            "device": device}
