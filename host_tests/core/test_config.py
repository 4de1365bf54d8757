"""config.json: defaults for what is missing or wrong, unknown keys kept."""
import config


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
