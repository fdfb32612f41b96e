"""The user's journey on the hub, with the real components (issue 12, item 2, hub half).

Per rendered fixture and chart target: the hub Secret as Z2JH's templates make it from the rendered
daskhub.yaml over the chart defaults (chart_values.py), loaded by the real JupyterHub and
KubeSpawner of that target's hub image through hub_config.py (Z2JH's jupyterhub_config.py,
mirrored), with the test control plane as KubeSpawner's cluster, reached with a client identity
that has exactly the chart's hub Role. The admin and an allowed non-admin log in over HTTP; the
user's spawn makes KubeSpawner build and create the notebook Pod and its PVC on the API server.

Where the journey stops: no kubelet (nor scheduler) runs on the test control plane, so the Pod is
created and stays Pending. KubeSpawner's start then waits in `KubeSpawner._start`, at the
`exponential_backoff(lambda: self.is_pod_running(...), 'pod ... did not start in N seconds!')`
call (kubespawner/spawner.py, 6.2.0 and 7.0.0 alike), for a Running pod that cannot come. Everything
before that line ran for real: the config load, the login, the spawn request, the PVC and the Pod
made by KubeSpawner's own code and admitted by the API server. The last test checks that state
(Pod Pending, server pending spawn) and lets the spawn end the way the hub ends one whose Pod
never runs: after singleuser.startTimeout (set to START_TIMEOUT here with a `--set`-style values
layer; the chart's 300 s would only make the test slow) the hub gives up and KubeSpawner deletes the
Pod, keeping the home PVC. (JupyterHub 4.0 refuses an admin's stop of a pending spawn, so that is the
one clean end on both targets.)
"""

from __future__ import annotations

import json
import re

import pytest

import harness
import journey
from journey import hub_component, quantity, spawner_component

API = "kube-apiserver"
# singleuser.startTimeout for the journey (the chart's default is 300 s): how long the hub waits for
# a Pod that cannot start here before it gives the spawn up. It must outlast the checks made while
# the spawn is pending (a few seconds).
START_TIMEOUT = 30


@pytest.fixture(scope="module")
def deployment(rendered, trip, cluster, tmp_path_factory):
    """Our StorageClass (storageclass.yaml, server-side applied), a namespace, the hub's client
    identity with the chart's Role there, and the hub."""
    storageclass = rendered.dir / "storageclass.yaml"
    trip.check(storageclass.is_file(), "pangeo-render", f"no storageclass.yaml rendered in {rendered.dir}")
    sc_name = rendered.config["storageClass"]["name"]
    namespace = hub = None
    try:
        # StorageClasses are cluster-wide and their parameters immutable: another fixture may have
        # left one of this name with other parameters, which is then replaced. Ours stays after the
        # test (another run may be using the same one; the test cluster goes away as a whole).
        apply = ("apply", "--server-side", "--force-conflicts", "--validate=strict",
                 "--field-manager=pangeo-render-journey", "-f", str(storageclass))
        p = cluster.kubectl(*apply, check=False)
        if p.returncode != 0 and "Forbidden" in p.stderr:
            cluster.kubectl("delete", "storageclass", sc_name, "--ignore-not-found")
            p = cluster.kubectl(*apply, check=False)
        trip.check(p.returncode == 0, f"{API} (storageclass.yaml)", p.stderr.strip())
        try:
            namespace = cluster.create_namespace(f"journey-{rendered.name}")
            kubeconfig = cluster.hub_identity(namespace)
        except journey.ClusterError as e:
            trip.fail(API, str(e))
        hub = journey.Hub(trip, tmp_path_factory.mktemp(f"journey-{rendered.name}"), cluster, namespace,
                          kubeconfig=kubeconfig,
                          set_values={"jupyterhub": {"singleuser": {"startTimeout": START_TIMEOUT}}})
        hub.start()
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        if namespace is not None:
            cluster.delete_namespace(namespace)


@pytest.fixture(scope="module")
def admin(rendered, trip, deployment):
    return journey.logged_in(trip, deployment, rendered.admins[0], rendered.password)


@pytest.fixture(scope="module")
def spawner_user(rendered, trip, deployment, admin):
    """The user who spawns: an allowed non-admin when the fixture has one, else the admin."""
    name = journey.non_admin(rendered)
    if name is None:
        return rendered.admins[0], admin
    return name, journey.logged_in(trip, deployment, name, rendered.password)


@pytest.fixture(scope="module")
def spawn(rendered, trip, cluster, deployment, admin, spawner_user):
    name, browser = spawner_user
    s = journey.start_spawn(trip, deployment, cluster, browser, name)
    yield s
    # Ended by test_spawn_waits_for_a_kubelet_and_ends_cleanly; this only cleans up after an
    # earlier failure (JupyterHub 5 stops a pending spawn; the namespace goes with the deployment).
    try:
        admin.api("DELETE", f"/users/{name}/server")
    except OSError:
        pass


# -- logging in ---------------------------------------------------------------------------------


def test_admin_logs_in_over_http(rendered, trip, deployment, admin):
    status, _, _ = admin.get("/hub/admin")
    trip.check(status == 200, hub_component("admin page"),
               f"admin {rendered.admins[0]!r} is logged in but GET /hub/admin answered {status}")
    user = journey.server_state(trip, admin, rendered.admins[0])
    trip.check(user["admin"] is True, hub_component("users API"), f"{rendered.admins[0]!r} is not an admin: {user}")


def test_allowed_user_logs_in_over_http_not_as_admin(rendered, trip, deployment, spawner_user):
    name, browser = spawner_user
    if name in rendered.admins:
        pytest.skip(f"{rendered.name}: hub.allowedUsers names no non-admin user (the admin spawns)")
    status, _, _ = browser.get("/hub/admin")
    trip.check(status == 403, hub_component("admin page"), f"non-admin {name!r}: GET /hub/admin answered {status}")
    status, _, body = browser.get("/hub/home")
    trip.check(status == 200 and name in body, hub_component("home page"),
               f"logged-in user {name!r}: GET /hub/home answered {status}")


def test_every_chart_target_has_a_non_admin_journey():
    target = harness.current_target()
    names = [r.name for r in harness.discover() if r.chart == target and journey.non_admin(r)]
    assert names, f"no rendered fixture for {target} has a non-admin in hub.allowedUsers (fixtures/*/pangeo.yaml)"


# -- what KubeSpawner built ---------------------------------------------------------------------


def test_notebook_image(rendered, trip, spawn):
    image = rendered.config["hub"]["singleuser"]["image"]
    want = f"{image['name']}:{image['tag']}"
    trip.check(spawn.container["image"] == want, spawner_component("pod image"),
               f"notebook container runs {spawn.container['image']!r}, config says {want!r}")
    trip.check(spawn.env.get("JUPYTER_IMAGE_SPEC") == want, spawner_component("pod env"),
               f"JUPYTER_IMAGE_SPEC is {spawn.env.get('JUPYTER_IMAGE_SPEC')!r}, not {want!r}")


@pytest.mark.parametrize("resource,side", [("cpu", "guarantee"), ("cpu", "limit"),
                                           ("memory", "guarantee"), ("memory", "limit")])
def test_resources_mean_what_the_config_says(rendered, trip, spawn, resource, side):
    """The config's values are Kubernetes quantities (README, Memory units); the Pod's requests
    (guarantee) and limits must be the same amounts, whatever form daskhub.yaml carried them in."""
    said = rendered.config["hub"]["singleuser"][resource][side]
    field = "requests" if side == "guarantee" else "limits"
    got = (spawn.container.get("resources", {}).get(field) or {}).get(resource)
    trip.check(got is not None, spawner_component("pod resources"),
               f"the notebook container has no resources.{field}.{resource} (config: {resource}.{side} {said!r})")
    trip.check(quantity(got) == quantity(said), spawner_component("pod resources"),
               f"resources.{field}.{resource} is {got!r} = {quantity(got)}, config says {resource}.{side} "
               f"{said!r} = {quantity(said)} (daskhub.yaml: "
               f"{rendered.get(f'jupyterhub.singleuser.{resource}.{side}', '(unset)')!r})")


def test_gateway_image_template_is_left_for_the_client(rendered, trip, spawn):
    # The dask-gateway client in the notebook fills in {JUPYTER_IMAGE_SPEC}; KubeSpawner must pass
    # it through as a literal (its own str.format would otherwise raise KeyError).
    value = spawn.env.get("DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE")
    trip.check(value == "{JUPYTER_IMAGE_SPEC}", spawner_component("pod env"),
               f"DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE is {value!r}, not the literal '{{JUPYTER_IMAGE_SPEC}}'")


def test_notebook_pod_is_not_placed_on_spot_workers(rendered, trip, spawn):
    spec = spawn.pod["spec"]
    workers = rendered.config["cluster"]["nodeGroups"]["daskWorkers"]
    taint = workers.get("taint") or {}
    spot_tolerations = [t for t in spec.get("tolerations") or []
                        if taint and t.get("key") == taint.get("key")]
    trip.check(not spot_tolerations, spawner_component("pod tolerations"),
               f"the notebook Pod tolerates the dask-workers taint: {spot_tolerations}")
    selector = spec.get("nodeSelector") or {}
    trip.check("SPOT" not in selector.values() and "spot" not in selector.values(),
               spawner_component("pod nodeSelector"), f"the notebook Pod selects spot nodes: {selector}")


def test_home_volume_is_on_our_storage_class(rendered, trip, cluster, spawn):
    ours = rendered.config["storageClass"]["name"]
    got = spawn.pvc["spec"].get("storageClassName")
    if got != ours:
        default_key = "storageclass.kubernetes.io/is-default-class"
        defaults = [sc["metadata"]["name"] for sc in cluster.get_json("storageclass")["items"]
                    if sc["metadata"].get("annotations", {}).get(default_key) == "true"]
        trip.fail(spawner_component("pvc"), f"the home PVC {spawn.pvc['metadata']['name']} has StorageClass {got!r}, "
                  f"not {ours!r} (default classes on the cluster: {defaults})")
    sc = cluster.get_json("storageclass", ours)
    trip.check(sc["provisioner"] == "ebs.csi.aws.com", API, f"StorageClass {ours} provisions with {sc['provisioner']}")
    trip.check(sc["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "pangeo-render", API,
               f"StorageClass {ours} on the cluster is not the rendered storageclass.yaml")
    capacity = rendered.values.get("jupyterhub", {}).get("singleuser", {}).get("storage", {}).get("capacity", "10Gi")
    got_capacity = spawn.pvc["spec"]["resources"]["requests"]["storage"]
    trip.check(quantity(got_capacity) == quantity(capacity), spawner_component("pvc"),
               f"the home PVC requests {got_capacity}, singleuser.storage.capacity is {capacity}")


def test_pod_as_sent_passes_strict_validation(rendered, trip, cluster, deployment, spawn):
    """KubeSpawner sent the Pod with a plain create, which drops unknown fields silently: send its
    manifest again (recorded by modify_pod_hook, renamed) as a strict server-side dry run."""
    manifest = json.loads(json.dumps(spawn.sent_pod))
    manifest.setdefault("apiVersion", "v1")
    manifest.setdefault("kind", "Pod")
    manifest["metadata"]["name"] = manifest["metadata"]["name"][:50] + "-strict-check"
    p = cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-n", deployment.namespace, "-f", "-",
                        input=json.dumps(manifest), check=False)
    trip.check(p.returncode == 0, f"{API} (strict dry run of KubeSpawner's Pod)", p.stderr.strip())
    sent = next(c for c in manifest["spec"]["containers"] if c["name"] == "notebook")
    trip.check(sent["image"] == spawn.container["image"], API, "the stored Pod's image differs from what was sent")


def test_spawn_waits_for_a_kubelet_and_ends_cleanly(rendered, trip, cluster, deployment, admin, spawn):
    # The line: the Pod is Pending (no scheduler, no kubelet) and the hub still reports the spawn
    # as pending, i.e. KubeSpawner sits in its is_pod_running wait (see the module docstring).
    pod_name = spawn.pod["metadata"]["name"]
    pod = cluster.get_json("-n", deployment.namespace, "pod", pod_name)
    trip.check(pod["status"].get("phase") == "Pending" and not pod["spec"].get("nodeName"), API,
               f"the notebook Pod is {pod['status'].get('phase')} on {pod['spec'].get('nodeName')!r}: "
               "this test control plane was not expected to run pods")
    model = journey.server_state(trip, admin, spawn.user)
    server = (model.get("servers") or {}).get("", {})
    trip.check(server.get("pending") == "spawn" and not server.get("ready"), hub_component("users API"),
               f"{spawn.user!r}'s server is not pending spawn: {server}")
    # There it ends: after singleuser.startTimeout the hub gives the spawn up and has KubeSpawner
    # stop it, which deletes the Pod. (JupyterHub 4.0 refuses an admin's stop of a pending spawn
    # with 400 "pending spawn, please wait", so the timeout is the one clean end on both targets.)
    mark = len(deployment.log())
    journey.wait_spawn_given_up(trip, deployment, cluster, admin, spawn.user, pod_name, START_TIMEOUT)
    given_up = f"failed to start in {START_TIMEOUT} seconds, giving up"
    trip.check(given_up in deployment.log()[mark:], hub_component("spawn"),
               f"the spawn ended, but not by the hub's start timeout ({given_up!r} is not in the hub log): "
               + journey.first_error(deployment.log()[mark:]))
    # (KubeSpawner's own wait times out at about the same moment, with "pod NS/NAME did not start in
    # N seconds!", unless the hub's stop cancelled it first: which of the two is logged is a race.)
    # The home volume outlives the server (KubeSpawner deletes PVCs only with the user).
    p = cluster.kubectl("get", "-n", deployment.namespace, "pvc", spawn.pvc["metadata"]["name"], check=False)
    trip.check(p.returncode == 0, spawner_component("stop"), "the home PVC was deleted with the server")
    # No error in the journey up to the timeout. Expected: the hub's check of its external
    # dask-gateway service at start (no gateway runs in the hub's journey; test_gateway_journey.py
    # runs one). After it, the hub and KubeSpawner log the timeout itself as errors.
    errors = [record.splitlines()[0] for record in journey.log_records(deployment.log()[:mark])
              if record.startswith("[E ") and "Cannot connect to external service dask-gateway" not in record]
    trip.check(not errors, hub_component("log"), "the hub logged errors during the journey:\n" + "\n".join(errors[:10]))


# -- secret-free values (secrets.inCluster, issue 15) -----------------------------------------


def test_secret_free_values_hold_no_secret_and_the_hub_reads_the_secret(rendered, trip, deployment, admin):
    """With secrets.inCluster the rendered daskhub.yaml holds none of the secrets, and the hub gets
    them from the Secret `pangeo-render apply` created, mounted as Z2JH mounts hub.existingSecret:
    the admin's login (the `admin` fixture) checked the password against the hash from that
    Secret's values.yaml key, and the dask-gateway service's token is its
    hub.services.dask-gateway.apiToken key."""
    import yaml

    if not rendered.existing_secret:
        pytest.skip(f"{rendered.name}: daskhub.yaml holds the secrets itself (no secrets.inCluster)")
    stored = yaml.safe_load((rendered.dir / "pangeo.secrets.yaml").read_text())
    text = rendered.daskhub.read_text()
    for key in ("proxySecretToken", "daskGatewayApiToken", "adminPasswordHash"):
        trip.check(stored[key] not in text, "daskhub.yaml", f"{rendered.where(key)}: the secrets file's {key} is in it")
    mounted = deployment.existing_secret
    trip.check(mounted.get("hub.services.dask-gateway.apiToken") == stored["daskGatewayApiToken"], API,
               f"Secret {rendered.existing_secret}: hub.services.dask-gateway.apiToken is not the secrets file's token")
    trip.check(stored["adminPasswordHash"] in mounted.get("values.yaml", ""), API,
               f"Secret {rendered.existing_secret}: values.yaml does not hold the secrets file's hash")
    # The chart's own Secret (its values.yaml) has no hash: the one the hub used came from ours.
    trip.check(stored["adminPasswordHash"] not in deployment.secret["values.yaml"], hub_component("hub Secret"),
               "the chart's Secret holds the hash although the values do not")
    trip.check(re.search(r"Loading \S*/existing-secret/values\.yaml", deployment.log()) is not None,
               hub_component("start"), "the hub did not load existing-secret/values.yaml", deployment.log_tail())
