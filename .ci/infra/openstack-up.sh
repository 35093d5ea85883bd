#!/bin/bash
# Bring up a minimal, REAL OpenStack Zed (Debian bookworm packages) on loopback for the real-Nova
# lane: Keystone, Placement, Glance, Neutron (API only), nova-api/conductor/scheduler and
# N nova-compute services on nova's fake virt driver (one `host=computeN` each).
# Adapted from shared/infra/openstack-up.sh. Differences:
#  - reuses the machine's MariaDB (root, socket) and RabbitMQ (guest/guest, 127.0.0.1:5672); starts
#    them with the machine's own commands when they are down;
#  - idempotent and cache-aware: state lives in $OSD (default /var/tmp/fenix-ci/os). When the stack
#    is already running it only resets the cloud; when $OSD and the databases survive from an earlier
#    run with the same settings (stamp), it skips every db sync/bootstrap and just starts the daemons;
#  - seeds what the tests need: flavors, a 1 KiB raw image, a `demo` project + user (member role),
#    a `fenix` service user (admin in `service`), and Fenix itself in the catalog as type `maintenance`;
#  - aodh-api (type `alarming`, :8042) for --aodh; its authtoken reads our config (oslo_config_file);
#  - a reset step: deletes every server, enables every nova-compute (a crashed run may leave some);
#  - Nova emits versioned notifications (exchange `nova`, topic versioned_notifications; NOTIFY=0: off);
#  - Neutron binds every port (ML2 mechanism driver fenix_bind_all.py, no agent) and the seed creates
#    demo's tenant network `demo-net` (10.0.0.0/24), so servers boot with a port like real VNFs.
# Usage: bash openstack-up.sh ; source $OSD/admin-openrc       Stop: bash openstack-down.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OSD=${OSD:-/var/tmp/fenix-ci/os}
N_COMPUTE=${N_COMPUTE:-3}
COMPUTE_DRIVER=${COMPUTE_DRIVER:-fake.MediumFakeDriver}
FENIX_URL=${FENIX_URL:-http://127.0.0.1:12347}
# Nova's versioned notifications (on by default; NOTIFY=0 turns them off): oslo driver messagingv2 on
# the machine's RabbitMQ, topic versioned_notifications, exchange `nova` (nova's default
# control_exchange). The service consumes them with --nova-notifications / FENIX_NOVA_NOTIFICATIONS
# (written into admin-openrc).
if [ "${NOTIFY:-1}" = 1 ]; then NOTIFY_DRIVER=messagingv2 NOTIFY_FORMAT=versioned; else NOTIFY_DRIVER=noop NOTIFY_FORMAT=unversioned; fi
PW=secret
DBU=os
IP=127.0.0.1
KS=http://$IP:5000
PY=/usr/bin/python3   # never pyenv's python3 on PATH: Debian's OpenStack lives in /usr/lib/python3
T0=$(date +%s.%N)
step() { awk -v t0="$T0" -v now="$(date +%s.%N)" -v m="$*" 'BEGIN{printf "[%6.1fs] %s\n", now-t0, m}'; }
# What makes a cached cloud reusable: this script's text and the settings.
STAMP="$(cat "$0" "$HERE/fenix_bind_all.py" | sha1sum | cut -c1-16) n=$N_COMPUTE driver=$COMPUTE_DRIVER notify=$NOTIFY_DRIVER"
mkdir -p "$OSD"/{pids,logs,etc,pylib}

bg() { # name cmd... : start in background, record pid
  local name=$1; shift
  nohup "$@" > "$OSD/logs/$name.out" 2>&1 &
  echo $! > "$OSD/pids/$name.pid"
}
UWSGI_OPTS="--master --processes 1 --threads 4 --enable-threads --die-on-term --lazy-apps --buffer-size 65535 \
  --add-header Connection:close --socket-timeout 10"
wait_http() { # url [tries of 0.25 s]
  local i; for i in $(seq 1 "${2:-480}"); do
    if curl -s -o /dev/null "$1"; then return 0; fi; sleep 0.25; done
  echo "timeout waiting for $1" >&2; return 1
}
alive() { [ -f "$OSD/pids/$1.pid" ] && kill -0 "$(cat "$OSD/pids/$1.pid")" 2>/dev/null; }

# ---------------------------------------------------------------- already running?
running=1
for s in keystone placement glance-api neutron-server nova-api nova-conductor nova-scheduler aodh-api; do alive "$s" || running=0; done
for n in $(seq 1 "$N_COMPUTE"); do alive "nova-compute$n" || running=0; done
if [ $running = 1 ] && [ "$(cat "$OSD/stamp" 2>/dev/null)" = "$STAMP" ] && curl -sf -o /dev/null $KS/v3 \
   && curl -s -o /dev/null http://$IP:8774/; then
  step "stack already running: reset only"
  MODE=running
else
  [ -d "$OSD/pids" ] && OSD=$OSD bash "$HERE/openstack-down.sh" >/dev/null 2>&1 || true
  MODE=fresh
  if [ "$(cat "$OSD/stamp" 2>/dev/null)" = "$STAMP" ] && [ -d "$OSD/keystone/fernet-keys" ]; then MODE=warm; fi
fi

# ---------------------------------------------------------------- MariaDB / RabbitMQ (the machine's)
if ! mysqladmin ping >/dev/null 2>&1; then
  step "mariadb: down, starting the machine's"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for i in $(seq 1 120); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
if ! (exec 3<>/dev/tcp/$IP/5672) 2>/dev/null; then
  step "rabbitmq: down, starting the machine's"
  rabbitmq-server -detached
  for i in $(seq 1 240); do (exec 3<>/dev/tcp/$IP/5672) 2>/dev/null && break; sleep 0.5; done
fi
TRANSPORT="rabbit://guest:guest@$IP:5672/"
if [ $MODE != running ] && [ "$NOTIFY_DRIVER" = messagingv2 ]; then
  # oslo's notifier declares a queue per topic and priority (versioned_notifications.info, .error)
  # that nobody consumes in the lane: keep it bounded on the machine's broker.
  rabbitmqctl -q set_policy --apply-to queues fenix-ci-nova-notifications '^versioned_notifications\.' \
    '{"max-length":2000,"message-ttl":600000}' >/dev/null 2>&1 || step "rabbitmq: could not set the notification queue policy"
fi
DBS="keystone placement glance neutron nova_api nova nova_cell0 aodh"
if [ $MODE = warm ]; then
  for d in $DBS; do
    [ -n "$(mysql -N -e "SHOW DATABASES LIKE '$d'")" ] || { MODE=fresh; break; }
  done
fi
step "mode: $MODE"
db() { echo "mysql+pymysql://$DBU:$PW@$IP/$1?charset=utf8"; }

if [ $MODE = fresh ]; then
  rm -rf "$OSD/keystone" "$OSD/glance" "$OSD/nova" "$OSD/neutron" "$OSD/stamp"
  {
    for d in $DBS; do echo "DROP DATABASE IF EXISTS $d; CREATE DATABASE $d;"; done
    echo "CREATE USER IF NOT EXISTS '$DBU'@'localhost' IDENTIFIED BY '$PW';"
    echo "CREATE USER IF NOT EXISTS '$DBU'@'127.0.0.1' IDENTIFIED BY '$PW';"
    echo "GRANT ALL ON *.* TO '$DBU'@'localhost'; GRANT ALL ON *.* TO '$DBU'@'127.0.0.1'; FLUSH PRIVILEGES;"
  } | mysql
fi
mkdir -p "$OSD"/{keystone,glance/images,nova,neutron}

if [ $MODE != running ]; then
# ---------------------------------------------------------------- configs (always rewritten)
mkdir -p "$OSD/etc/keystone" "$OSD/etc/placement" "$OSD/etc/aodh"
cat > "$OSD/etc/keystone/keystone.conf" <<EOC
[DEFAULT]
log_file = $OSD/logs/keystone.log
[database]
connection = $(db keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $OSD/keystone/fernet-keys
[credential]
key_repository = $OSD/keystone/credential-keys
[identity]
password_hash_rounds = 4
[cache]
enabled = true
backend = oslo_cache.dict
expiration_time = 600
EOC
cat > "$OSD/admin-openrc" <<EOC
export OS_AUTH_URL=$KS/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$PW
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
EOC
sed -e 's/OS_USERNAME=admin/OS_USERNAME=demo/' -e 's/OS_PROJECT_NAME=admin/OS_PROJECT_NAME=demo/' "$OSD/admin-openrc" > "$OSD/demo-openrc"
sed -e 's/OS_USERNAME=admin/OS_USERNAME=fenix/' -e 's/OS_PROJECT_NAME=admin/OS_PROJECT_NAME=service/' "$OSD/admin-openrc" > "$OSD/fenix-openrc"
echo "export AMQP_URL=amqp://guest:guest@$IP:5672/" >> "$OSD/admin-openrc"
# the transport URL the service consumes Nova's versioned notifications from (--nova-notifications)
if [ "$NOTIFY_DRIVER" = messagingv2 ]; then echo "export FENIX_NOVA_NOTIFICATIONS=$TRANSPORT" >> "$OSD/admin-openrc"; fi

# The ML2 mechanism driver that binds every port (fenix_bind_all.py), registered by entry point:
# neutron-server runs with PYTHONPATH=$OSD/pylib.
cp "$HERE/fenix_bind_all.py" "$OSD/pylib/fenix_bind_all.py"
mkdir -p "$OSD/pylib/fenix_bind_all-0.dist-info"
printf 'Metadata-Version: 2.1\nName: fenix_bind_all\nVersion: 0\n' > "$OSD/pylib/fenix_bind_all-0.dist-info/METADATA"
printf '[neutron.ml2.mechanism_drivers]\nfenix_bind_all = fenix_bind_all:BindAllMechanismDriver\n' \
  > "$OSD/pylib/fenix_bind_all-0.dist-info/entry_points.txt"

auth_section() { cat <<EOC
[$1]
auth_type = password
auth_url = $KS/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $PW
region_name = RegionOne
valid_interfaces = public
EOC
}
authtoken() { cat <<EOC
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $PW
EOC
}
{ cat <<EOC
[DEFAULT]
log_file = $OSD/logs/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $(db placement)
EOC
authtoken placement; } > "$OSD/etc/placement/placement.conf"
{ cat <<EOC
[DEFAULT]
bind_host = $IP
bind_port = 9292
workers = 1
log_file = $OSD/logs/glance-api.log
enabled_backends = fs:file
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $OSD/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $OSD/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $OSD/glance/tasks
[database]
connection = $(db glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $OSD/glance/lock
[image_format]
require_image_format_match = false
EOC
authtoken glance; } > "$OSD/etc/glance-api.conf"
{ cat <<EOC
[DEFAULT]
bind_host = $IP
bind_port = 9696
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $TRANSPORT
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_paste_config = /etc/neutron/api-paste.ini
log_file = $OSD/logs/neutron-server.log
state_path = $OSD/neutron
[database]
connection = $(db neutron)
[oslo_concurrency]
lock_path = $OSD/neutron/lock
[ml2]
type_drivers = flat,vlan,local
tenant_network_types = local
mechanism_drivers = fenix_bind_all
extension_drivers =
[agent]
root_helper = sudo
EOC
authtoken neutron; auth_section nova nova; } > "$OSD/etc/neutron.conf"
{ cat <<EOC
[DEFAULT]
transport_url = $TRANSPORT
my_ip = $IP
compute_driver = $COMPUTE_DRIVER
# capacity as the fake driver reports it (no overcommit): realistic "host full" decisions
cpu_allocation_ratio = 1.0
ram_allocation_ratio = 1.0
disk_allocation_ratio = 1.0
enabled_apis = osapi_compute
osapi_compute_listen = $IP
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
metadata_workers = 1
state_path = $OSD/nova
instances_path = $OSD/nova/instances
use_rootwrap_daemon = false
instance_usage_audit = false
heal_instance_info_cache_interval = -1
resume_guests_state_on_host_boot = false
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[api_database]
connection = $(db nova_api)
[database]
connection = $(db nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[oslo_concurrency]
lock_path = $OSD/nova/lock
[oslo_messaging_notifications]
driver = ${NOTIFY_DRIVER}
# (control_exchange: nova's default, "nova")
[vnc]
enabled = false
[cinder]
os_region_name = RegionOne
[compute]
live_migration_wait_for_vif_plug = false
[notifications]
notify_on_state_change = vm_and_task_state
notification_format = ${NOTIFY_FORMAT}
versioned_notifications_topics = versioned_notifications
EOC
authtoken nova
auth_section placement nova
auth_section glance nova
auth_section neutron nova
auth_section service_user nova | sed '1a send_service_user_token = true'
} > "$OSD/etc/nova.conf"
{ cat <<EOC
[DEFAULT]
log_file = $OSD/logs/aodh-api.log
transport_url = $TRANSPORT
[database]
connection = $(db aodh)
[api]
auth_mode = keystone
paste_config = $OSD/etc/aodh/api-paste.ini
EOC
authtoken fenix; auth_section service_credentials fenix; } > "$OSD/etc/aodh/aodh.conf"
# aodh's paste file makes keystonemiddleware read /etc/aodh/aodh.conf: point it at ours
sed "/^paste.filter_factory = keystonemiddleware/a oslo_config_file = $OSD/etc/aodh/aodh.conf" \
  /usr/lib/python3/dist-packages/aodh/api/api-paste.ini > "$OSD/etc/aodh/api-paste.ini"
NC="--config-file $OSD/etc/nova.conf"
for n in $(seq 1 "$N_COMPUTE"); do
  cat > "$OSD/etc/nova-compute$n.conf" <<EOC
[DEFAULT]
host = compute$n
state_path = $OSD/nova/compute$n
instances_path = $OSD/nova/compute$n/instances
EOC
  mkdir -p "$OSD/nova/compute$n"
done

# ---------------------------------------------------------------- Keystone
KSC="--config-file $OSD/etc/keystone/keystone.conf"
if [ $MODE = fresh ]; then
  step "keystone: db_sync + bootstrap"
  keystone-manage $KSC db_sync
  keystone-manage $KSC fernet_setup --keystone-user root --keystone-group root
  keystone-manage $KSC credential_setup --keystone-user root --keystone-group root
  keystone-manage $KSC bootstrap --bootstrap-password $PW \
    --bootstrap-admin-url $KS/v3/ --bootstrap-internal-url $KS/v3/ \
    --bootstrap-public-url $KS/v3/ --bootstrap-region-id RegionOne
fi
bg keystone env OS_KEYSTONE_CONFIG_DIR="$OSD/etc/keystone" \
  uwsgi --plugins python3 --http-socket $IP:5000 --wsgi-file /usr/bin/keystone-wsgi-public \
  $UWSGI_OPTS --logto "$OSD/logs/keystone-uwsgi.log"

# The db work of the other services runs while Keystone starts.
if [ $MODE = fresh ]; then
  step "placement/glance/neutron/nova: db sync (parallel)"
  ( OS_PLACEMENT_CONFIG_DIR="$OSD/etc/placement" placement-manage --config-file "$OSD/etc/placement/placement.conf" db sync ) > "$OSD/logs/placement-manage.out" 2>&1 &
  p1=$!
  glance-manage --config-file "$OSD/etc/glance-api.conf" db_sync > "$OSD/logs/glance-manage.out" 2>&1 &
  p2=$!
  neutron-db-manage --config-file "$OSD/etc/neutron.conf" upgrade heads > "$OSD/logs/neutron-db-manage.out" 2>&1 &
  p3=$!
  ( nova-manage $NC api_db sync
    nova-manage $NC cell_v2 map_cell0 --database_connection "$(db nova_cell0)"
    nova-manage $NC cell_v2 create_cell --name=cell1 --verbose
    nova-manage $NC db sync ) > "$OSD/logs/nova-manage.out" 2>&1 &
  p4=$!
  aodh-dbsync --config-file "$OSD/etc/aodh/aodh.conf" > "$OSD/logs/aodh-dbsync.out" 2>&1 &
  p5=$!
  for p in $p1 $p2 $p3 $p4 $p5; do wait $p || { echo "db sync failed (see $OSD/logs/*-manage.out)" >&2; exit 1; }; done
fi
wait_http $KS/v3
step "keystone: up"

if [ $MODE = fresh ]; then
  step "keystone: projects, users, services, endpoints"
  FENIX_URL=$FENIX_URL $PY - <<EOP
from keystoneauth1.identity import v3
from keystoneauth1 import session
from keystoneclient.v3 import client
s = session.Session(auth=v3.Password(auth_url="$KS/v3", username="admin", password="$PW",
    project_name="admin", user_domain_name="Default", project_domain_name="Default"))
k = client.Client(session=s)
proj = k.projects.create("service", "default")
demo = k.projects.create("demo", "default")
admin_role = k.roles.find(name="admin")
for r in ("service", "member", "reader"):
    if not k.roles.list(name=r): k.roles.create(r)
svc_role = k.roles.find(name="service")
member = k.roles.find(name="member")
for u in ("nova", "placement", "glance", "neutron", "fenix"):
    user = k.users.create(u, domain="default", password="$PW")
    k.roles.grant(admin_role, user=user, project=proj)
    k.roles.grant(svc_role, user=user, project=proj)
d = k.users.create("demo", domain="default", password="$PW")
k.roles.grant(member, user=d, project=demo)
for name, typ, url in (("placement", "placement", "http://$IP:8778"),
                       ("nova", "compute", "http://$IP:8774/v2.1"),
                       ("glance", "image", "http://$IP:9292"),
                       ("neutron", "network", "http://$IP:9696"),
                       ("aodh", "alarming", "http://$IP:8042"),
                       ("fenix", "maintenance", "$FENIX_URL")):
    svc = k.services.create(name, type=typ)
    for itf in ("public", "internal", "admin"):
        k.endpoints.create(svc, url, interface=itf, region="RegionOne")
print("keystone objects created")
EOP
fi

# ---------------------------------------------------------------- the other daemons
step "start placement, glance, neutron, nova"
bg placement env OS_PLACEMENT_CONFIG_DIR="$OSD/etc/placement" \
  uwsgi --plugins python3 --http-socket $IP:8778 --wsgi-file /usr/bin/placement-api \
  $UWSGI_OPTS --logto "$OSD/logs/placement-uwsgi.log"
bg glance-api glance-api --config-file "$OSD/etc/glance-api.conf"
bg neutron-server env PYTHONPATH="$OSD/pylib" neutron-server --config-file "$OSD/etc/neutron.conf"
bg nova-api nova-api $NC --log-file "$OSD/logs/nova-api.log"
bg nova-conductor nova-conductor $NC --log-file "$OSD/logs/nova-conductor.log"
bg nova-scheduler nova-scheduler $NC --log-file "$OSD/logs/nova-scheduler.log"
bg aodh-api aodh-api --port 8042 --host $IP -- --config-file "$OSD/etc/aodh/aodh.conf"
for n in $(seq 1 "$N_COMPUTE"); do
  bg nova-compute$n $PY -c 'import sys; from nova.cmd.compute import main; sys.argv[0]="nova-compute"; sys.exit(main())' \
    $NC --config-file "$OSD/etc/nova-compute$n.conf" --log-file "$OSD/logs/nova-compute$n.log"
done
wait_http http://$IP:8778/
wait_http http://$IP:9292/
wait_http http://$IP:9696/
wait_http http://$IP:8774/
wait_http http://$IP:8042/
step "all HTTP endpoints answer"
echo "$STAMP" > "$OSD/stamp.pending"
fi

# ---------------------------------------------------------------- wait, discover, seed, reset
# shellcheck disable=SC1091
source "$OSD/admin-openrc"
NC="--config-file $OSD/etc/nova.conf"
N_COMPUTE=$N_COMPUTE MODE=$MODE OSD=$OSD $PY "$HERE/openstack-seed.py" || { echo "seed/reset failed" >&2; exit 1; }
[ -f "$OSD/stamp.pending" ] && mv "$OSD/stamp.pending" "$OSD/stamp"
step "ready ($MODE)"
