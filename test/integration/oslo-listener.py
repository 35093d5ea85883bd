# A real oslo.messaging notification listener (Debian's python3-oslo.messaging), the way Ceilometer
# listens: prints each notification it receives as one JSON line on stdout, "READY" once consuming.
# Usage: /usr/bin/python3 oslo-listener.py <transport_url> [exchange] [topic] [pool]
import json, sys, threading
from oslo_config import cfg
import oslo_messaging

url = sys.argv[1]
exchange = sys.argv[2] if len(sys.argv) > 2 else "openstack"
topic = sys.argv[3] if len(sys.argv) > 3 else "notifications"
pool = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
conf = cfg.ConfigOpts()
conf([], project="fenix-test")
oslo_messaging.set_transport_defaults(exchange)   # control_exchange
transport = oslo_messaging.get_notification_transport(conf, url=url)
lock = threading.Lock()

class Endpoint:
    def _emit(self, priority, ctxt, publisher_id, event_type, payload, metadata):
        with lock:
            sys.stdout.write(json.dumps({"priority": priority, "publisher_id": publisher_id, "event_type": event_type,
                                         "payload": payload, "metadata": metadata, "ctxt": ctxt}) + "\n")
            sys.stdout.flush()
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit("info", ctxt, publisher_id, event_type, payload, metadata)
    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit("warn", ctxt, publisher_id, event_type, payload, metadata)
    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit("error", ctxt, publisher_id, event_type, payload, metadata)

listener = oslo_messaging.get_notification_listener(
    transport, [oslo_messaging.Target(topic=topic)], [Endpoint()], executor="threading", pool=pool)
listener.start()
sys.stdout.write("READY\n"); sys.stdout.flush()
try:
    sys.stdin.read()          # run until stdin closes
finally:
    listener.stop(); listener.wait()
