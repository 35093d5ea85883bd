# Wait for the fake computes, map them, seed flavors + image, and reset the cloud to a clean state
# (no servers, every nova-compute enabled). Run by openstack-up.sh with Debian's /usr/bin/python3.
import os, subprocess, sys, time
from keystoneauth1.identity import v3
from keystoneauth1 import session

N = int(os.environ.get("N_COMPUTE", "3"))
OSD = os.environ["OSD"]
MODE = os.environ.get("MODE", "fresh")
T0 = time.time()
def step(m): print("[seed %5.1fs] %s" % (time.time() - T0, m), flush=True)

s = session.Session(auth=v3.Password(auth_url=os.environ["OS_AUTH_URL"], username=os.environ["OS_USERNAME"],
    password=os.environ["OS_PASSWORD"], project_name=os.environ["OS_PROJECT_NAME"],
    user_domain_name="Default", project_domain_name="Default"))
NOVA = {"service_type": "compute", "interface": "public"}
H = {"OpenStack-API-Version": "compute 2.79", "X-OpenStack-Nova-API-Version": "2.79"}
def nova(method, path, **kw):
    return s.request(path, method, endpoint_filter=NOVA, headers=H, raise_exc=False, **kw)

hosts = ["compute%d" % i for i in range(1, N + 1)]
deadline = time.time() + 180
while True:
    r = nova("GET", "/os-services?binary=nova-compute")
    up = sorted(x["host"] for x in (r.json().get("services", []) if r.status_code == 200 else []) if x["state"] == "up")
    if all(h in up for h in hosts): break
    if time.time() > deadline: sys.exit("nova-compute services not up: %s" % up)
    time.sleep(0.5)
step("nova-compute up: %s" % up)

# host mappings (the scheduler also discovers every 5 s; doing it here makes the cloud usable now)
def mapped():
    r = nova("GET", "/os-hypervisors/detail")
    return sorted(h.get("service", {}).get("host") for h in r.json().get("hypervisors", [])) if r.status_code == 200 else []
if MODE == "fresh" or any(h not in mapped() for h in hosts):
    subprocess.run(["nova-manage", "--config-file", OSD + "/etc/nova.conf", "cell_v2", "discover_hosts"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
step("hosts mapped")

# placement: every compute has its inventory
PL = {"service_type": "placement", "interface": "public"}
while True:
    r = s.get("/resource_providers", endpoint_filter=PL, headers={"OpenStack-API-Version": "placement 1.14"}, raise_exc=False)
    names = [p["name"] for p in r.json().get("resource_providers", [])] if r.status_code == 200 else []
    if all(h in names for h in hosts): break
    if time.time() > deadline: sys.exit("resource providers missing: %s" % names)
    time.sleep(0.5)
step("placement providers: %s" % sorted(names))

# flavors
have = {f["name"] for f in nova("GET", "/flavors/detail?is_public=None").json()["flavors"]}
for name, vcpus in (("m1.tiny", 1), ("m1.small", 2), ("m1.medium", 4)):
    if name not in have:
        r = nova("POST", "/flavors", json={"flavor": {"name": name, "vcpus": vcpus, "ram": 64, "disk": 1}})
        assert r.status_code == 200, r.text
# image
IMG = {"service_type": "image", "interface": "public"}
imgs = s.get("/v2/images?name=fake-img", endpoint_filter=IMG).json()["images"]
if not [i for i in imgs if i["status"] == "active"]:
    for i in imgs: s.delete("/v2/images/%s" % i["id"], endpoint_filter=IMG, raise_exc=False)
    img = s.post("/v2/images", endpoint_filter=IMG, json={"name": "fake-img", "disk_format": "raw",
        "container_format": "bare", "visibility": "public"}).json()
    s.put("/v2/images/%s/file" % img["id"], endpoint_filter=IMG, data=b"\0" * 1024,
          headers={"Content-Type": "application/octet-stream"})
step("flavors + image ready")

# quotas: no limit on the test projects (the default 20 cores / 10 instances is too small for the lane)
KS = {"service_type": "identity", "interface": "public"}
for p in s.get("/projects", endpoint_filter=KS).json()["projects"]:
    if p["name"] in ("admin", "demo"):
        q = nova("GET", "/os-quota-sets/%s" % p["id"]).json()["quota_set"]
        if q["cores"] != -1 or q["instances"] != -1 or q["ram"] != -1:
            r = nova("PUT", "/os-quota-sets/%s" % p["id"], json={"quota_set": {"cores": -1, "instances": -1, "ram": -1}})
            assert r.status_code == 200, r.text
step("quotas unlimited for admin, demo")

# reset: no servers, every nova-compute enabled
servers = nova("GET", "/servers/detail?all_tenants=1").json()["servers"]
for sv in servers:
    nova("POST", "/servers/%s/action" % sv["id"], json={"os-resetState": {"state": "active"}})
    nova("DELETE", "/servers/%s" % sv["id"])
while servers:
    if time.time() > deadline + 120: sys.exit("servers not deleted: %s" % [x["id"] for x in servers])
    time.sleep(0.5)
    servers = nova("GET", "/servers/detail?all_tenants=1").json()["servers"]
for sv in nova("GET", "/os-services?binary=nova-compute").json()["services"]:
    if sv["status"] != "enabled":
        nova("PUT", "/os-services/%s" % sv["id"], json={"status": "enabled"})
# no AODH alarms of earlier runs
AL = {"service_type": "alarming", "interface": "public"}
for a in s.get("/v2/alarms?q.field=all_projects&q.op=eq&q.value=true", endpoint_filter=AL).json():
    s.delete("/v2/alarms/%s" % a["alarm_id"], endpoint_filter=AL, raise_exc=False)
step("reset: no servers, every nova-compute enabled, no alarms")

# the admin user may act in project demo (admin role there): the bench (src/bench/nova.ts) creates
# demo's servers on chosen hosts (availability_zone nova:<host>, an admin-only request)
KSA = {"service_type": "identity", "interface": "public"}
def one(path, key, **q):
    r = s.get(path, endpoint_filter=KSA, params=q).json()[key]
    return r[0]["id"]
demo_id = one("/projects", "projects", name="demo")
admin_uid = one("/users", "users", name="admin")
admin_role = one("/roles", "roles", name="admin")
r = s.put("/projects/%s/users/%s/roles/%s" % (demo_id, admin_uid, admin_role), endpoint_filter=KSA, raise_exc=False)
assert r.status_code in (200, 204), r.text

# a tenant network of project demo (servers get a port on it, like real VNFs); the ML2 driver
# fenix_bind_all binds its ports
NET = {"service_type": "network", "interface": "public"}
nets = s.get("/v2.0/networks?name=demo-net", endpoint_filter=NET).json()["networks"]
if nets:
    net = nets[0]
else:
    net = s.post("/v2.0/networks", endpoint_filter=NET, json={"network": {"name": "demo-net", "project_id": demo_id}}).json()["network"]
if not s.get("/v2.0/subnets?network_id=%s" % net["id"], endpoint_filter=NET).json()["subnets"]:
    s.post("/v2.0/subnets", endpoint_filter=NET, json={"subnet": {"name": "demo-subnet", "network_id": net["id"],
        "project_id": demo_id, "ip_version": 4, "cidr": "10.0.0.0/24", "enable_dhcp": False}})
step("network demo-net (%s, project demo, 10.0.0.0/24)" % net["id"])
