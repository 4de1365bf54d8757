"""The device's socket budget. lwIP on the ESP32 has a fixed number of sockets
(CONFIG_LWIP_MAX_SOCKETS, set by our build in boards/esp32-common/sdkconfig.board); when they
run out, whatever opens one next fails, be it the MQTT session or time sync. So every
service has a share here and never goes past it, and the shares add up to the total.
The sim gives the firmware the same number of sockets (tools/sim.py)."""

SOCKETS = 24  # CONFIG_LWIP_MAX_SOCKETS
LISTENERS = 4  # Modbus TCP, raw stream, HTTP, HTTPS
MODBUS_CLIENTS = 6
RAW_READERS = 2
MQTT = 1
SNTP = 1
DNS = 1
MDNS = 1  # the responder's UDP socket on 5353 (net/mdns_task.py)
# Each a TLS session, kept alive between requests (a handshake costs far more than a
# request): the UI's event stream and page loads, and a few integrations at once.
HTTPS_CONNECTIONS = 5
HTTP_CONNECTIONS = 1  # the landing page only
REFUSING = 1  # a connection over its service's share is accepted, then closed at once
UPDATE = 1  # a firmware download an MQTT command asked for (update/download.py)
# The network manager needs none: DHCP, AutoIP and the access point's DHCP server are
# lwIP's own PCBs, not sockets (docs/memory.md).

EVENT_STREAMS = 2  # of the HTTPS connections

SHARES = (LISTENERS, MODBUS_CLIENTS, RAW_READERS, MQTT, SNTP, DNS, MDNS, HTTPS_CONNECTIONS,
          HTTP_CONNECTIONS, REFUSING, UPDATE)
