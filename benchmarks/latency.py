"""Telegram-to-consumer latency, shared by the Modbus and MQTT benchmarks: every synthetic
telegram (metersim.synthetic) carries its own total power, so the first time a consumer
sees that value dates the telegram's arrival."""


def total_power(frame):
    """The telegram's 1.7.0 in W, as the firmware serves and publishes it."""
    line = frame.split(b"1-0:1.7.0(")[1]
    return round(float(line[:line.index(b"*")]) * 1000)


def telegram_latencies(done, frames, seen):
    """done: metersim's (time sent, frame index) list; seen: power -> first time observed.
    (telegrams matched, p50 ms, p99 ms) over the telegrams whose power is unique."""
    values = [total_power(f) for f in frames]
    lat = sorted(seen[values[i]] - t for t, i in done
                 if values.count(values[i]) == 1 and values[i] in seen)
    return len(lat), lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3
