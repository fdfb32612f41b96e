"""The user's Dask journey with the real components (issue 12: item 2, gateway half, and item 5).

Per rendered fixture and chart target, on the test control plane (PANGEO_TEST_KUBECONFIG):

- the real hub with KubeSpawner, configured as the chart configures the hub pod (journey.Hub);
- the real `dask-gateway-server` of the target's version, configured as the dask-gateway chart
  configures its pod plus our extraConfig (gateway_config.py), its KubeBackend storing DaskCluster
  objects and authenticating users through the hub;
- the real `dask-gateway-server kube-controller`, configured as the chart's controller pod, making
  each cluster's Secret and scheduler Pod;
- both running as identities with exactly the chart's ClusterRoles, in the hub's namespace, with
  the DaskCluster CRD as the chart ships it;
- the real `dask-gateway` client, holding the token a user's notebook gets from the hub (the
  spawned Pod's JUPYTERHUB_API_TOKEN) or one from the hub's token page.

Where the line is: no kubelet runs, so the scheduler Pod the controller creates never starts. The
controller creates worker Pods only for a cluster whose scheduler container runs and has asked for
workers (phase Running; spec.replicas from the scheduler's heartbeat), and the gateway refuses to
scale a cluster that is not running. So the test goes up to the stored scheduler Pod, sees the
gateway refuse the scale request ("not running") with no worker Pod created, and has the worker Pod
built by the controller's own `make_pod` from the DaskCluster the gateway stored, then validated by
the API server (strict field validation, dry run).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest

import journey
from journey import gateway_component, hub_component

API = "kube-apiserver"
GIB = 2**30
WAIT = 60  # seconds for the controller or the gateway's backend to act on a change
GATEWAY_SCOPE = "access:services!service=dask-gateway"
OUTSIDER = "pangeo-render-outsider"
CHOSEN_IMAGE = "docker.io/pangeo/base-notebook:2025.11.13"


@pytest.fixture(scope="session")
def crd(cluster):
    """The DaskCluster CRD and the chart's ClusterRoles, as the dask-gateway chart ships them."""
    try:
        journey.install_dask_gateway_crd(cluster)
    except journey.ClusterError as e:
        pytest.fail(f"[test control plane] {e}", pytrace=False)


@pytest.fixture(scope="module")
def deployment(rendered, trip, cluster, crd, tmp_path_factory):
    """A namespace, the hub (with the chart's hub Role there), the gateway and the controller."""
    namespace = hub = gateway = None
    workdir = tmp_path_factory.mktemp(f"gateway-{rendered.name}")
    try:
        try:
            namespace = cluster.create_namespace(f"gateway-{rendered.name}")
            kubeconfig = cluster.hub_identity(namespace)
        except journey.ClusterError as e:
            trip.fail(API, str(e))
        hub = journey.Hub(trip, workdir / "hub", cluster, namespace, kubeconfig=kubeconfig)
        hub.start()
        try:
            gateway = journey.Gateway(trip, workdir, cluster, hub)
        except journey.ClusterError as e:
            trip.fail(API, str(e))
        gateway.start()
        yield hub, gateway
    finally:
        if gateway is not None:
            gateway.stop()
        if hub is not None:
            hub.stop()
        if namespace is not None:
            # No garbage collector runs here to follow owner references: delete what the
            # controller made with the DaskClusters, then the namespace.
            for kind in ("daskclusters", "pods", "secrets"):
                cluster.kubectl("delete", kind, "--all", "-n", namespace, "--wait=false", check=False)
            cluster.delete_namespace(namespace)


@pytest.fixture(scope="module")
def hub(deployment):
    return deployment[0]


@pytest.fixture(scope="module")
def gateway(deployment):
    return deployment[1]


@pytest.fixture(scope="module")
def admin(rendered, trip, hub):
    return journey.logged_in(trip, hub, rendered.admins[0], rendered.password)


@pytest.fixture(scope="module")
def notebook(rendered, trip, cluster, hub, admin):
    """A configured user's notebook as KubeSpawner created it (the user is an allowed non-admin when
    the fixture has one): its Pod's env holds the token the notebook's dask-gateway client sends."""
    user = journey.non_admin(rendered) or rendered.admins[0]
    browser = admin if user == rendered.admins[0] else journey.logged_in(trip, hub, user, rendered.password)
    spawn = journey.start_spawn(trip, hub, cluster, browser, user)
    yield spawn
    try:
        admin.api("DELETE", f"/users/{urllib.parse.quote(user)}/server")
    except OSError:
        pass


def client(gateway, token, call):
    """Runs `await call(g)` with a dask-gateway client holding `token` and returns its result. The
    client runs on an event loop of ours (asynchronous=True): its default background loop thread,
    shared by all clients of a process, does not survive being closed and reopened test after test."""
    from dask_gateway import Gateway
    from dask_gateway.auth import JupyterHubAuth

    async def main():
        async with Gateway(address=gateway.address, auth=JupyterHubAuth(api_token=token), asynchronous=True) as g:
            return await call(g)

    return asyncio.run(main())


def bounds(r, key):
    b = r.config["daskGateway"]["worker"][key]
    return float(b["default"]), float(b["min"]), float(b["max"])


def get(cluster, *args):
    """An object as the API server stores it, or None."""
    p = cluster.kubectl("get", "-o", "json", *args, check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def wait_for(trip, gateway, component, what, fn, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            trip.fail(component, f"{what}: not within {timeout} s", gateway.log_tail())
        time.sleep(0.3)


# -- the notebook's client ----------------------------------------------------------------------


def test_notebook_client_sees_the_options_and_their_bounds(rendered, trip, gateway, notebook):
    """The dask-gateway client as it runs in the notebook: configured only by the Pod's env (the
    hub's and DaskHub's DASK_GATEWAY__* settings, our extraEnv, the notebook's token), with just the
    gateway's address moved to 127.0.0.1. It sees our options and bounds, and its default worker
    image is the notebook's own image, from the literal {JUPYTER_IMAGE_SPEC} it fills in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "JUPYTERHUB_", "JUPYTER_"))}
    env.update({k: v for k, v in notebook.env.items() if v is not None})
    env["DASK_GATEWAY__ADDRESS"] = gateway.address  # LOCAL: the Pod would use the hub's proxy
    script = (
        "import json; from dask_gateway import Gateway\n"
        "g = Gateway()\n"
        "o = g.cluster_options()\n"
        "print(json.dumps({k: {'value': f.value, 'min': getattr(f, 'min', None), 'max': getattr(f, 'max', None)}"
        " for k, f in o._fields.items()}))\n"
    )
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    trip.check(p.returncode == 0, "dask-gateway client (notebook env)",
               f"could not read the cluster options: {p.stderr.strip()[-1500:]}", gateway.log_tail())
    fields = json.loads(p.stdout.strip().splitlines()[-1])
    trip.check(sorted(fields) == ["image", "worker_cores", "worker_memory"], "dask-gateway client",
               f"options {sorted(fields)}")
    for field, key in (("worker_cores", "cores"), ("worker_memory", "memoryGiB")):
        f = fields[field]
        got, want = (f["value"], f["min"], f["max"]), bounds(rendered, key)
        trip.check(got == want, "dask-gateway client", f"{field} default/min/max {got} != daskGateway.worker.{key} {want}")
    image = rendered.config["hub"]["singleuser"]["image"]
    trip.check(fields["image"]["value"] == f"{image['name']}:{image['tag']}", "dask-gateway client",
               f"default image {fields['image']['value']!r} is not the notebook's")


@pytest.fixture(scope="module")
def created(rendered, trip, cluster, gateway, notebook):
    """A cluster the notebook's user creates with chosen worker cores, memory and image."""
    token = notebook.env["JUPYTERHUB_API_TOKEN"]
    _, _, cores = bounds(rendered, "cores")
    _, lo, hi = bounds(rendered, "memoryGiB")
    memory = (lo + hi) / 2

    async def create(g):
        options = await g.cluster_options(use_local_defaults=False)
        options.worker_cores, options.worker_memory, options.image = cores, memory, CHOSEN_IMAGE
        return await g.submit(options)

    try:
        name = client(gateway, token, create)
    except Exception as e:
        trip.fail(gateway_component(), f"{notebook.user!r} could not create a cluster: {e!r}", gateway.log_tail())
    namespace, _, obj = name.partition(".")
    trip.check(namespace == gateway.release.namespace, gateway_component(), f"cluster {name} not in the release namespace")
    dc = wait_for(trip, gateway, gateway_component("KubeBackend"), f"DaskCluster {obj} stored",
                  lambda: get(cluster, "daskcluster", obj, "-n", namespace))
    return {"token": token, "name": name, "obj": obj, "ns": namespace, "cluster": dc, "cores": cores,
            "memory": memory, "user": notebook.user}


def test_cluster_is_stored_with_the_chosen_options(rendered, trip, created):
    spec = created["cluster"]["spec"]
    where = gateway_component("KubeBackend")
    trip.check(spec["username"] == created["user"], where, f"username {spec['username']!r}")
    want = {"worker_cores": created["cores"], "worker_memory": created["memory"], "image": CHOSEN_IMAGE}
    trip.check(spec["options"] == want, where, f"options {spec['options']} != {want}")
    config = spec["config"]
    for key, value in (("worker_cores", created["cores"]), ("worker_memory", int(created["memory"] * GIB)),
                       ("image", CHOSEN_IMAGE),
                       ("cluster_max_workers", rendered.config["daskGateway"]["maxWorkersPerCluster"]),
                       ("worker_extra_pod_config", rendered.get("dask-gateway.gateway.backend.worker.extraPodConfig")),
                       # Absent (daskGateway.schedulerOnDaskWorkers: false): the chart's default {}.
                       ("scheduler_extra_pod_config",
                        rendered.get("dask-gateway.gateway.backend.scheduler.extraPodConfig", {}))):
        trip.check(config.get(key) == value, where, f"cluster config {key} = {config.get(key)!r}, expected {value!r}")


def assert_on_dask_nodes(rendered, trip, pod, component):
    """The pod selects the dask-workers group's capacity type and tolerates its taint."""
    group = rendered.config["cluster"]["nodeGroups"]["daskWorkers"]
    capacity = "SPOT" if group.get("spot") else "ON_DEMAND"
    spec = pod["spec"]
    selector = spec.get("nodeSelector") or {}
    trip.check(selector.get("eks.amazonaws.com/capacityType") == capacity, component,
               f"nodeSelector {selector}: expected eks.amazonaws.com/capacityType={capacity}")
    taint = group.get("taint")
    if taint:
        want = {"key": taint["key"], "operator": "Equal", "value": str(taint["value"]), "effect": taint["effect"]}
        trip.check(want in (spec.get("tolerations") or []), component,
                   f"no toleration {want} in {spec.get('tolerations')}")


def assert_placed(rendered, trip, pod, component, part):
    """Workers, and schedulers unless daskGateway.schedulerOnDaskWorkers is false, on the dask
    nodes; unplaced schedulers select no capacity type and do not tolerate the workers' taint, so
    they stay off those nodes (the walkthrough's gateway, kept by import)."""
    if part == "worker" or rendered.config["daskGateway"].get("schedulerOnDaskWorkers", True):
        assert_on_dask_nodes(rendered, trip, pod, component)
        return
    spec = pod["spec"]
    selector = spec.get("nodeSelector") or {}
    trip.check("eks.amazonaws.com/capacityType" not in selector, component,
               f"nodeSelector {selector}: an unplaced scheduler selects no capacity type")
    taint = rendered.config["cluster"]["nodeGroups"]["daskWorkers"].get("taint")
    if taint:
        tolerated = [t for t in spec.get("tolerations") or [] if t.get("key") == taint["key"]]
        trip.check(not tolerated, component, f"an unplaced scheduler tolerates the workers' taint: {tolerated}")


def cpu(cores: float) -> str:
    """The API server's canonical form of the controller's f"{cores:.3f}"."""
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def test_controller_creates_the_scheduler_pod_where_the_config_places_it(rendered, trip, cluster, gateway, created):
    obj, ns = created["obj"], created["ns"]
    pod_name = f"dask-scheduler-{obj}"
    pod = wait_for(trip, gateway, gateway_component("controller"), f"scheduler Pod {pod_name} created",
                   lambda: get(cluster, "pod", pod_name, "-n", ns))
    where = f"{gateway_component('controller')}: scheduler Pod"
    container = pod["spec"]["containers"][0]
    trip.check(container["image"] == CHOSEN_IMAGE, where, f"image {container['image']!r}")
    config = created["cluster"]["spec"]["config"]
    requests = container["resources"]["requests"]
    want = {"cpu": cpu(config["scheduler_cores"]), "memory": str(config["scheduler_memory"])}
    trip.check(requests == want, where, f"requests {requests} != {want}")
    assert_placed(rendered, trip, pod, where, "scheduler")
    env = {e["name"]: e.get("value") for e in container["env"]}
    trip.check(env.get("DASK_GATEWAY_API_URL") == gateway.release.api_url, where,
               f"DASK_GATEWAY_API_URL {env.get('DASK_GATEWAY_API_URL')!r}")
    dc = wait_for(trip, gateway, gateway_component("controller"), "DaskCluster status.schedulerPod recorded",
                  lambda: (lambda c: c if (c or {}).get("status", {}).get("schedulerPod") else None)(
                      get(cluster, "daskcluster", obj, "-n", ns)))
    status = dc["status"]
    trip.check(status["schedulerPod"] == pod_name and status.get("phase") == "Pending",
               gateway_component("controller"), f"status {status}")
    trip.check(get(cluster, "secret", status["credentials"], "-n", ns) is not None, gateway_component("controller"),
               f"no credentials Secret {status['credentials']}")


@pytest.mark.parametrize("component", ["scheduler", "worker"])
def test_dask_pods_pass_strict_validation(rendered, trip, cluster, gateway, created, component):
    from dask_gateway_server.utils import FrozenAttrDict

    ctl = gateway.in_process_controller()
    config = FrozenAttrDict(created["cluster"]["spec"]["config"])
    pod = ctl.make_pod(created["ns"], created["obj"], config, is_worker=component == "worker")
    where = f"{gateway_component('controller')}: {component} Pod"
    if component == "scheduler":
        live = wait_for(trip, gateway, where, "scheduler Pod created",
                        lambda: get(cluster, "pod", f"dask-scheduler-{created['obj']}", "-n", created["ns"]))
        for key in ("nodeSelector", "restartPolicy"):
            trip.check(pod["spec"].get(key) == live["spec"].get(key), where,
                       f"make_pod's {key} differs from the running controller's Pod")
        # (The API server's DefaultTolerationSeconds admission adds its own two to the live Pod.)
        for toleration in pod["spec"].get("tolerations", []):
            trip.check(toleration in live["spec"].get("tolerations", []), where,
                       f"make_pod's toleration {toleration} is not on the running controller's Pod")
        pod["metadata"]["name"] += "-dry-run"
    p = journey.strict_dry_run(cluster, pod)
    trip.check(p.returncode == 0, f"{API} ({component} Pod)", f"strict validation refused it: {p.stderr.strip()}")
    stored = json.loads(p.stdout)
    container = stored["spec"]["containers"][0]
    trip.check(container["image"] == CHOSEN_IMAGE, where, f"image {container['image']!r}")
    if component == "worker":
        want = {"cpu": cpu(created["cores"]), "memory": str(int(created["memory"] * GIB))}
        res = container["resources"]
        trip.check(res["requests"] == want and res["limits"] == want, where, f"resources {res} != {want} (request = limit)")
    assert_placed(rendered, trip, stored, where, component)


def test_the_line_without_a_kubelet(rendered, trip, cluster, gateway, created):
    """Here the real components stop: the scheduler never runs, so the gateway refuses to scale the
    cluster and the controller creates no worker Pod."""
    name = created["name"]

    async def scale(g):
        return await g.scale_cluster(name, 2)

    async def clusters(g):
        return await g.list_clusters()

    with pytest.raises(Exception) as info:
        client(gateway, created["token"], scale)
    trip.check("not running" in str(info.value), gateway_component(), f"scale answered {info.value!r}")
    workers = get(cluster, "pods", "-n", created["ns"], "-l",
                  f"gateway.dask.org/cluster={created['obj']},app.kubernetes.io/component=dask-worker")
    trip.check(workers is not None and workers["items"] == [], gateway_component("controller"),
               "worker Pods without a running scheduler")
    report = [c for c in client(gateway, created["token"], clusters) if c.name == name]
    trip.check(len(report) == 1 and report[0].status.name == "PENDING", gateway_component(),
               f"cluster report {report}")


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("worker_cores", "above-max", "worker_cores"),
        ("worker_cores", "below-min", "worker_cores"),
        ("worker_memory", "above-max", "worker_memory"),
        ("image", "pangeo/pangeo-notebook", "must also provide a tag"),
    ],
)
def test_options_outside_the_bounds_are_refused(rendered, trip, cluster, gateway, notebook, field, value, needle):
    if value in ("above-max", "below-min"):
        _, lo, hi = bounds(rendered, "cores" if field == "worker_cores" else "memoryGiB")
        value = hi + 0.5 if value == "above-max" else lo / 2
    before = get(cluster, "daskclusters", "-n", gateway.release.namespace)["items"]
    with pytest.raises(ValueError) as info:
        # Sent as is: the gateway, not the client, must refuse it.
        client(gateway, notebook.env["JUPYTERHUB_API_TOKEN"], lambda g: g.submit(**{field: value}))
    message = str(info.value)
    trip.check(needle in message, gateway_component(), f"{field}={value!r} refused without saying why: {message!r}")
    after = get(cluster, "daskclusters", "-n", gateway.release.namespace)["items"]
    trip.check(len(after) == len(before), gateway_component(), f"{field}={value!r} still stored a DaskCluster")


def test_stopping_the_cluster_removes_its_pod(rendered, trip, cluster, gateway, created):
    obj, ns = created["obj"], created["ns"]
    client(gateway, created["token"], lambda g: g.stop_cluster(created["name"]))
    wait_for(trip, gateway, gateway_component("controller"), "scheduler Pod deleted after stop",
             lambda: get(cluster, "pod", f"dask-scheduler-{obj}", "-n", ns) is None)
    wait_for(trip, gateway, gateway_component("controller"), "DaskCluster phase Stopped",
             lambda: (get(cluster, "daskcluster", obj, "-n", ns) or {}).get("status", {}).get("phase") == "Stopped")


# -- who may use the gateway (item 5) -----------------------------------------------------------


def test_every_configured_user_may_create_a_cluster(rendered, trip, hub, gateway):
    for user in dict.fromkeys(rendered.admins + rendered.allowed):
        token = journey.user_token(trip, journey.logged_in(trip, hub, user, rendered.password), user, "journey")
        async def create_and_stop(g):
            await g.stop_cluster(await g.submit())

        try:
            client(gateway, token, create_and_stop)
        except Exception as e:
            trip.fail(gateway_component(), f"configured user {user!r} could not create a cluster: {e!r}",
                      gateway.log_tail())


def outsider_token(rendered, trip, admin):
    """A hub user the config does not name, added by the admin (as on the admin page), and an API
    token the admin makes for it."""
    status, body = admin.api("POST", f"/users/{OUTSIDER}")
    trip.check(status in (201, 409), hub_component("users API"), f"admin could not add {OUTSIDER}: {status} {body}")
    return journey.user_token(trip, admin, OUTSIDER, "outsider")


def test_hub_user_outside_the_config(rendered, trip, gateway, admin):
    token = outsider_token(rendered, trip, admin)
    if rendered.chart == "daskhub-2024.1.1":
        # dask-gateway 2024.1.0 accepts every token the hub vouches for (README, "Who may use Dask
        # Gateway"): this pins down that documented limit.
        client(gateway, token, lambda g: g.list_clusters())
        return
    for call in ("list_clusters", "submit"):
        with pytest.raises(Exception) as info:
            client(gateway, token, lambda g: getattr(g, call)())
        trip.check("401" in str(info.value) or "Unauthorized" in str(info.value), gateway_component(),
                   f"{OUTSIDER}, a hub user outside the config, got {info.value!r} from {call}")
    trip.check("jupyterhub_service_name not set" not in gateway.server.log(), gateway_component("start"),
               "logged that any JupyterHub token may create clusters")


def test_hub_role_grants_the_gateway_and_nothing_more(rendered, trip, hub, notebook):
    roles = rendered.get("jupyterhub.hub.loadRoles", None)
    if rendered.chart == "daskhub-2024.1.1":
        trip.check(roles is None, "pangeo-render", "hub.loadRoles rendered for a gateway that checks no scopes")
        return
    trip.check(list(roles or {}) == ["dask-gateway-users"], "pangeo-render", f"hub.loadRoles {list(roles or {})}")
    role = roles["dask-gateway-users"]
    trip.check(role.get("scopes") == [GATEWAY_SCOPE], "pangeo-render", f"role scopes {role.get('scopes')}")
    trip.check(sorted(role.get("users", [])) == sorted(set(rendered.admins) | set(rendered.allowed)),
               "pangeo-render", f"role users {role.get('users')}")
    trip.check(set(role) <= {"description", "scopes", "users"}, "pangeo-render", f"role keys {sorted(role)}")
    # The notebook's token, as the hub vouches for it to the gateway: the gateway's scope, no other
    # service's.
    conn_status, data = _hub_user(hub, notebook.env["JUPYTERHUB_API_TOKEN"])
    trip.check(conn_status == 200, hub_component("API"), f"GET /hub/api/user with the notebook's token: {conn_status}")
    scopes = set(data.get("scopes", []))
    trip.check(GATEWAY_SCOPE in scopes, hub_component("server token"), f"the notebook's token lacks {GATEWAY_SCOPE}: {sorted(scopes)}")
    if notebook.user not in rendered.admins:
        others = {s for s in scopes if s.startswith("access:services") and s != GATEWAY_SCOPE}
        trip.check(not others, hub_component("server token"), f"the notebook's token reaches other services: {sorted(others)}")


def _hub_user(hub, token):
    import http.client

    port = json.loads(hub.env["PANGEO_HUB_LOCAL"])["hub_port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/hub/api/user", headers={"Authorization": f"token {token}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()
