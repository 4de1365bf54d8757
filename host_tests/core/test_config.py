"""config.json: defaults for what is missing or wrong, unknown keys kept."""
from device import config, schema


def test_empty_and_partial_take_defaults():
    cfg, errors = config.merge({})
    assert cfg == config.DEFAULTS and errors == []
    assert cfg["Modbus"] is not config.DEFAULTS["Modbus"]
    cfg, errors = config.merge({"MeterType": "Eastron-SDM630", "Modbus": {"StaleAfter": 5}})
    assert cfg["MeterType"] == "Eastron-SDM630"
    assert cfg["Modbus"] == {"StaleAfter": 5, "IdleTimeout": 60} and errors == []


def test_invalid_values_fall_back_and_say_which_field():
    cfg, errors = config.merge({"MeterType": "ABB", "Modbus": {"StaleAfter": 0}, "X": 1})
    assert cfg["MeterType"] == "PhoenixContact-EMPro" and cfg["Modbus"]["StaleAfter"] == 30
    assert errors == ["MeterType: unknown meter template",
                      "Modbus.StaleAfter: must be 1..3600 seconds"]
    assert cfg["X"] == 1
    cfg, errors = config.merge({"Modbus": 3})
    assert cfg["Modbus"] == config.DEFAULTS["Modbus"] and errors == ["Modbus: must be an object"]
    assert config.merge([1])[1] == ["config: not a JSON object"]


def test_load_missing_and_corrupt_files():
    assert config.load("/nonexistent/config.json") == (config.DEFAULTS, [])
    path = "/tmp/sc_test_config.json"
    with open(path, "w") as f:
        f.write('{"MeterType": ')
    cfg, errors = config.load(path)
    assert cfg == config.DEFAULTS and errors == ["config: not valid JSON, defaults used"]


def test_mqtt_broker_is_mqtts_only():
    assert schema.broker_address("mqtts://broker.example.com") == ("broker.example.com", 8883)
    assert schema.broker_address("mqtts://10.0.0.2:1884/") == ("10.0.0.2", 1884)
    for url, why in (("mqtt://broker:1883", "only mqtts:// (MQTT over TLS) is allowed, "
                                            "not mqtt://"),
                     ("ws://b", "only mqtts:// (MQTT over TLS) is allowed, not ws://"),
                     ("broker.example.com", "must look like mqtts://host[:port]"),
                     ("mqtts://", "must look like mqtts://host[:port]"),
                     ("mqtts://u@b", "must look like mqtts://host[:port]"),
                     ("mqtts://b:0", "port must be 1..65535"),
                     ("mqtts://b:x", "port must be 1..65535")):
        try:
            schema.broker_address(url)
        except ValueError as e:
            assert str(e) == why, (url, str(e))
        else:
            raise AssertionError(url)


def test_mqtt_section_checks_each_field():
    cfg, errors = config.merge({"MQTT": {"Enabled": True, "Broker": "mqtt://b", "Site": "a/b",
                                         "Username": 5, "HomeAssistant": "yes"}})
    assert errors == [
        "MQTT.Broker: only mqtts:// (MQTT over TLS) is allowed, not mqtt://",
        "MQTT.Site: must not contain / + or # (it is part of MQTT topics)",
        "MQTT.Username: must be text of at most 128 characters",
        "MQTT.HomeAssistant: must be true or false"]
    assert cfg["MQTT"] == {"Enabled": True, "Broker": "", "Site": "unknown-site",
                           "Username": "", "Password": "", "HomeAssistant": False}
    cfg, errors = config.merge({"MQTT": {"Enabled": True, "Broker": "mqtts://b:8884",
                                         "Site": "home"}})
    assert errors == [] and cfg["MQTT"]["Broker"] == "mqtts://b:8884"
