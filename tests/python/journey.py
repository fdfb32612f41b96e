"""The user's journey with the real components (issue 12): shared by the hub and gateway tests.

- `Cluster`: the test control plane (scripts/test-cluster) named by PANGEO_TEST_KUBECONFIG, driven
  with its own kubectl; namespaces, a client identity with exactly the chart's hub Role.
- `Hub`: a real `jupyterhub` process (the venv's JupyterHub + KubeSpawner, configurable-http-proxy
  from npm) on 127.0.0.1, configured by hub_config.py (Z2JH's jupyterhub_config.py, mirrored) from
  the hub Secret chart_values.py builds, with the test control plane as KubeSpawner's cluster.
- `Browser`: logs in through the hub's login form and keeps its cookies, as a browser does.
- `Spawn`: what a spawn left on the API server (the Pod and PVC KubeSpawner created).

Every failure names the fixture, the chart target, the component and what failed first
(`Journey.fail`).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import pathlib
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
from decimal import Decimal
from typing import Any

import pytest

import chart_values
import harness

HERE = pathlib.Path(__file__).resolve().parent
HUB_START_TIMEOUT = 90  # seconds until /hub/login answers (a busy 2-core machine)
SPAWN_TIMEOUT = 60  # seconds until KubeSpawner's Pod and PVC are on the API server
STOP_TIMEOUT = 60

# Z2JH templates/hub/rbac.yaml (3.2.1 and 4.4.0 alike): the hub ServiceAccount's Role. The hub
# here uses a client identity bound to exactly these rules, so KubeSpawner works with the chart's
# permissions, no more.
HUB_ROLE_RULES = [
    {"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims", "secrets", "services"],
     "verbs": ["get", "watch", "list", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
]


class Journey:
    """Failure messages: `[fixture | chart target | component] what failed first`."""

    def __init__(self, r: harness.Rendered):
        self.r = r
        self.target = r.chart
        self.hub: Hub | None = None  # set when a hub runs: failures then quote its first error

    def label(self, component: str) -> str:
        return f"[{self.r.name} | {self.target} | {component}]"

    def fail(self, component: str, what: str, detail: str = "") -> None:
        message = f"{self.label(component)} {what}"
        if self.hub is not None:
            since = self.hub.log()[self.hub.mark:]
            message += f"\nfirst error in the hub log since the last request: {first_error(since)}"
        pytest.fail(message + (f"\n{detail}" if detail else ""), pytrace=False)

    def check(self, ok: bool, component: str, what: str, detail: str = "") -> None:
        if not ok:
            self.fail(component, what, detail)


def versions() -> dict[str, str]:
    import jupyterhub
    import kubespawner

    return {"jupyterhub": jupyterhub.__version__, "kubespawner": kubespawner.__version__}


def hub_component(part: str = "") -> str:
    v = versions()
    return f"JupyterHub {v['jupyterhub']}" + (f" {part}" if part else "")


def spawner_component(part: str = "") -> str:
    return f"KubeSpawner {versions()['kubespawner']}" + (f" {part}" if part else "")


# -- the test control plane ---------------------------------------------------------------------


def control_plane() -> Cluster:
    """The test control plane of the journey tests: skips them when PANGEO_SKIP_CLUSTER_TESTS=1
    (`scripts/test --no-cluster`), fails them when none is named."""
    if os.environ.get("PANGEO_SKIP_CLUSTER_TESTS") == "1":
        pytest.skip("PANGEO_SKIP_CLUSTER_TESTS=1: no test control plane for the journey")
    try:
        return Cluster()
    except (RuntimeError, ClusterError) as e:
        problem = str(e)
    pytest.fail(f"[test control plane] {problem}", pytrace=False)


class Cluster:
    """The API server of scripts/test-cluster; scripts/test-python always provides one."""

    def __init__(self):
        kc = os.environ.get("PANGEO_TEST_KUBECONFIG")
        if not kc or not pathlib.Path(kc).is_file():
            raise RuntimeError(
                "PANGEO_TEST_KUBECONFIG does not name a kubeconfig: run the journey through "
                "scripts/test-python (it starts a test control plane) or `eval \"$(scripts/test-cluster up)\"`"
            )
        self.kubeconfig = pathlib.Path(kc)
        self.dir = self.kubeconfig.parent
        kubectl = os.environ.get("PANGEO_KUBECTL")
        if not kubectl:
            kubectl = subprocess.run(
                [str(harness.REPO / "scripts" / "test-cluster"), "path", "kubectl"],
                check=True, capture_output=True, text=True,
            ).stdout.strip()
        self.kubectl_path = kubectl

    def kubectl(self, *args: str, input: str | None = None, kubeconfig: pathlib.Path | None = None,
                check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.kubectl_path, f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)}: {p.stderr.strip() or p.stdout.strip()}")
        return p

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def create_namespace(self, prefix: str) -> str:
        name = re.sub(r"[^a-z0-9-]", "-", prefix.lower())[:40].strip("-") + "-" + secrets.token_hex(3)
        self.kubectl("create", "namespace", name)
        return name

    def delete_namespace(self, name: str) -> None:
        self.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)

    def hub_identity(self, namespace: str) -> pathlib.Path:
        """A client identity bound, in `namespace` only, to the chart's hub Role; its kubeconfig."""
        user = f"journey-hub-{namespace}"
        out = subprocess.run(
            [str(harness.REPO / "scripts" / "test-cluster"), "user", "--dir", str(self.dir), user],
            capture_output=True, text=True, timeout=120,
        )
        if out.returncode != 0:
            raise ClusterError(f"scripts/test-cluster user {user}: {out.stderr.strip()}")
        kubeconfig = pathlib.Path(out.stdout.strip().splitlines()[-1])
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "hub", "namespace": namespace}, "rules": HUB_ROLE_RULES}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "hub", "namespace": namespace},
                   "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
                   "roleRef": {"kind": "Role", "name": "hub", "apiGroup": "rbac.authorization.k8s.io"}}
        self.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                            "items": [role, binding]}))
        # RBAC applies bindings asynchronously: wait until the identity may create pods there.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            p = self.kubectl("auth", "can-i", "create", "pods", "-n", namespace, kubeconfig=kubeconfig, check=False)
            if p.stdout.strip() == "yes":
                return kubeconfig
            time.sleep(0.3)
        raise ClusterError(f"RBAC did not grant {user} the hub Role in {namespace} within 30 s")


class ClusterError(Exception):
    pass


# -- quantities ---------------------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10**3,
            "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("8Gi", "500m", "4G", 2, "1e3") as a number (bytes, cores)."""
    s = str(value).strip()
    m = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?", s)
    if not m:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    number, suffix = Decimal(m.group(1)), m.group(2) or ""
    return number * (_BINARY.get(suffix) or Decimal(_DECIMAL[suffix]))


# -- the hub ------------------------------------------------------------------------------------


class Hub:
    """A real jupyterhub process with KubeSpawner, configured as the chart configures the hub pod."""

    def __init__(self, journey: Journey, workdir: pathlib.Path, cluster: Cluster, namespace: str, *,
                 kubeconfig: pathlib.Path | None = None, env: dict[str, str] | None = None,
                 service_urls: dict[str, str] | None = None, config: dict | None = None,
                 set_values: dict | None = None):
        r = journey.r
        self.journey = journey
        self.workdir = workdir
        self.namespace = namespace
        self.release = r.config.get("releases", {}).get("daskhub", {}).get("name", "daskhub")
        mounts = workdir / "etc-jupyterhub"
        # set_values: more values over the rendered file, as `helm install -f daskhub.yaml --set ...`.
        values = chart_values.coalesce(r.values, set_values or {})
        self.secret = chart_values.hub_secret(values, journey.target, self.release, namespace)
        # hub.existingSecret (secrets.inCluster): the Secret `pangeo-render apply` creates, read back
        # from the API server and mounted where the chart mounts it (existing-secret/, one file per key).
        self.existing_secret: dict[str, str] = {}
        if r.existing_secret:
            apply_secrets(journey, cluster, namespace, workdir)
            self.existing_secret = read_secret(journey, cluster, namespace, r.existing_secret, hub_component())
        # The ConfigMap's resource names (Z2JH's jupyterhub.name-templates) that the hub reads.
        names = {n: f"{self.release}-{n}" if n != "hub" else "hub"
                 for n in ("hub", "proxy-api", "image-pull-secret", "user-scheduler", "priority", "singleuser")}
        chart_values.write_hub_mounts(mounts, self.secret, names)
        if self.existing_secret:
            chart_values.write_secret_mount(mounts / "existing-secret", self.existing_secret)
        self.record_dir = workdir / "recorded"
        self.record_dir.mkdir(exist_ok=True)
        self.port = harness.free_port()
        local = {
            "dir": str(workdir),
            "port": self.port,
            "hub_port": harness.free_port(),
            "proxy_api_port": harness.free_port(),
            "chp": harness.chp_command(),
            "record_dir": str(self.record_dir),
            "service_urls": service_urls or {},
            "config": config or {},
        }
        self.env = dict(os.environ)
        self.env.pop("JUPYTERHUB_API_TOKEN", None)
        self.env.update({
            "PANGEO_HUB_MOUNTS": str(mounts),
            "PANGEO_HUB_LOCAL": json.dumps(local),
            # templates/hub/deployment.yaml: the hub container's env.
            "PYTHONUNBUFFERED": "1",
            "HELM_RELEASE_NAME": self.release,
            "POD_NAMESPACE": namespace,
            "CONFIGPROXY_AUTH_TOKEN": self.secret["hub.config.ConfigurableHTTPProxy.auth_token"],
            # LOCAL: kubernetes_asyncio falls back to this kubeconfig (no in-cluster account).
            "KUBECONFIG": str(kubeconfig or cluster.kubeconfig),
            **(env or {}),
        })
        self.server = harness.HubServer(HERE / "hub_config.py", workdir, self.port, self.env)
        self.log_path = self.server.log_path
        self.mark = 0  # log offset at the last request (Browser), where a failure's search starts
        journey.hub = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server.start()
        problem = self.server.wait_ready(HUB_START_TIMEOUT)
        if problem:
            self.journey.fail(hub_component("start"), f"{problem}: {first_error(self.log())}", self.log_tail())

    def log(self) -> str:
        return self.server.log()

    def log_tail(self, n: int = 4000) -> str:
        return "hub log (end):\n" + self.log()[-n:]

    def stop(self) -> None:
        self.server.stop()


def apply_secrets(journey: Journey, cluster: Cluster, namespace: str, workdir: pathlib.Path) -> None:
    """`pangeo-render apply` of the fixture's config (its daskhub release moved to the test's
    namespace, its StorageClass to one of the test's own, not the default) with the
    secrets file it was rendered with: what creates the Secret of secrets.inCluster."""
    import yaml

    r = journey.r
    binary = os.environ.get("PANGEO_RENDER_BIN")
    if not binary:
        journey.fail("pangeo-render apply", "PANGEO_RENDER_BIN is not set (scripts/test-python sets it)")
    secrets_file = r.dir / "pangeo.secrets.yaml"
    journey.check(secrets_file.is_file(), "pangeo-render apply", f"no secrets file at {secrets_file} "
                  "(scripts/test-python copies it beside the rendered files)")
    config = json.loads(json.dumps(r.config))
    # The chart is only read for the Helm step, which this apply does not run: the stand-in chart
    # of the cluster tests keeps a target whose chart is a local checkout (2026.3.0) applicable.
    config.setdefault("releases", {})["daskhub"] = {
        "name": config["releases"].get("daskhub", {}).get("name", "daskhub"), "namespace": namespace,
        "chart": str(harness.REPO / "fixtures" / "helm" / "tiny-chart"), "version": "0.1.0"}
    config["storageClass"].update({"name": f"{namespace}-sc", "default": False})
    work = workdir / "apply"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pangeo.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    p = subprocess.run(
        [binary, "apply", "-c", str(work / "pangeo.yaml"), "--secrets", str(secrets_file),
         "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    output = p.stdout + p.stderr
    journey.check(p.returncode == 0, "pangeo-render apply", f"exited with {p.returncode}", output[-3000:])
    journey.check(f"Secret/{r.existing_secret} (namespace {namespace}) created" in output, "pangeo-render apply",
                  f"did not create Secret {r.existing_secret}", output[-3000:])
    # Nothing it printed holds a secret (the Secret's data included, plain or base64).
    for line in secrets_file.read_text().splitlines():
        key, _, value = line.partition(":")
        value = value.strip().strip('"')
        if key in ("proxySecretToken", "daskGatewayApiToken", "adminPasswordHash"):
            journey.check(value not in output, "pangeo-render apply", f"its output holds the secrets file's {key}")


def read_secret(journey: Journey, cluster: Cluster, namespace: str, name: str, component: str) -> dict[str, str]:
    """A Secret's data as a pod sees it mounted or in an env var: each key's bytes, decoded."""
    import base64

    p = cluster.kubectl("get", "-o", "json", "-n", namespace, "secret", name, check=False)
    journey.check(p.returncode == 0, component, f"Secret {name} is not in namespace {namespace}: {p.stderr.strip()}")
    data = json.loads(p.stdout).get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def first_error(log: str) -> str:
    """The first thing that went wrong in a hub log: the first ERROR line and, when a traceback
    follows, its final line (the exception)."""
    lines = [line.strip() for line in log.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("[E ") or line.startswith("Traceback"):
            exc = ""
            for later in lines[i + 1:i + 300]:
                if later.startswith("[") and not later.startswith("[E "):
                    break  # the next log record: the traceback is over
                if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", later):
                    exc = later
                    break
            return line + (f" ... {exc}" if exc else "")
    return "(no error in the hub log)"


def log_records(log: str) -> list[str]:
    """A hub log as its records: each starts with "[L " (level) and holds its indented lines."""
    records: list[str] = []
    for line in log.splitlines():
        if re.match(r"\[[DIWEC] ", line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


class Browser:
    """A client that logs in through the login form and keeps cookies, as a browser does."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, str]:
        self.hub.mark = self.hub.log_path.stat().st_size if self.hub.log_path.exists() else 0
        conn = http.client.HTTPConnection("127.0.0.1", self.hub.port, timeout=30)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookie = rest.split(";", 1)[0]
            if cookie in ("", '""'):
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = cookie
        return resp.status, resp.headers, text

    def get(self, path: str) -> tuple[int, http.client.HTTPMessage, str]:
        return self.request("GET", path)

    def login(self, username: str, password: str) -> tuple[int, http.client.HTTPMessage, str]:
        """GET the form (for its _xsrf), POST it. 302 to /hub/... when admitted."""
        status, _, body = self.get("/hub/login")
        if status != 200:
            return status, _, body
        form = {"username": username, "password": password}
        m = re.search(r'name="_xsrf"\s+value="([^"]+)"', body)
        if m:
            form["_xsrf"] = m.group(1).replace("&#124;", "|").replace("&amp;", "&")
        return self.request("POST", "/hub/login?next=%2Fhub%2Fhome", urllib.parse.urlencode(form),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def api(self, method: str, path: str, data: Any = None) -> tuple[int, Any]:
        """The REST API with the login cookie, as the hub's own pages call it (same-origin Referer,
        the _xsrf cookie echoed in X-XSRFToken)."""
        headers = {"Referer": f"{self.hub.url}/hub/home"}
        if "_xsrf" in self.cookies:
            headers["X-XSRFToken"] = self.cookies["_xsrf"]
        body = None
        if data is not None:
            body = json.dumps(data)
            headers["Content-Type"] = "application/json"
        status, _, text = self.request(method, "/hub/api" + path, body, headers)
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text


def non_admin(r: harness.Rendered) -> str | None:
    """A user the config allows who is not an admin, if it names one."""
    return next((u for u in r.allowed if u not in r.admins), None)


def logged_in(journey: Journey, hub: Hub, user: str, password: str) -> Browser:
    """A browser in which `user` has logged in through the login form (302 and the login cookie)."""
    b = Browser(hub)
    status, _, body = b.login(user, password)
    journey.check(status == 302 and "jupyterhub-hub-login" in b.cookies, hub_component("login"),
                  f"{user!r} was not logged in: POST /hub/login answered {status}", body[:300] + "\n" + hub.log_tail())
    return b


def user_token(journey: Journey, browser: Browser, user: str, note: str) -> str:
    """A new API token for the logged-in `user`, made as on the hub's token page
    (POST /hub/api/users/NAME/tokens with the login cookie)."""
    status, body = browser.api("POST", f"/users/{urllib.parse.quote(user)}/tokens", {"note": note})
    journey.check(status == 201 and isinstance(body, dict) and "token" in body, hub_component("token page"),
                  f"{user!r} could not make an API token: POST /hub/api/users/{user}/tokens answered {status}")
    return body["token"]


# -- a spawn ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Spawn:
    """What KubeSpawner left on the API server for one user's server."""

    user: str
    pod: dict  # as the API server stores it
    pvc: dict
    sent_pod: dict  # as KubeSpawner sent it (modify_pod_hook record)

    @property
    def container(self) -> dict:
        return next(c for c in self.pod["spec"]["containers"] if c["name"] == "notebook")

    @property
    def env(self) -> dict[str, str]:
        return {e["name"]: e.get("value") for e in self.container.get("env", [])}


def start_spawn(journey: Journey, hub: Hub, cluster: Cluster, browser: Browser, user: str) -> Spawn:
    """The user, logged in, asks for their server (GET /hub/spawn, as the home page's Start button;
    no options form, so the hub spawns at once). Waits until KubeSpawner's PVC and Pod are on the
    API server and returns them."""
    status, headers, body = browser.get("/hub/spawn")
    journey.check(status == 302, hub_component("spawn"), f"GET /hub/spawn as {user!r} answered {status}",
                  body[:500] + "\n" + hub.log_tail())
    deadline = time.monotonic() + SPAWN_TIMEOUT
    pod = pvc = None
    while time.monotonic() < deadline:
        pods = cluster.get_json("pods", "-n", hub.namespace, "-l", "component=singleuser-server")["items"]
        pod = next((p for p in pods if p["metadata"].get("annotations", {}).get("hub.jupyter.org/username") == user),
                   None)
        if pod is not None:
            break
        # A failed spawn ends the pending state early: report the hub's first error.
        st, model = browser.api("GET", f"/users/{urllib.parse.quote(user)}")
        if st == 200 and not (model.get("servers") or {}).get("", {}).get("pending") and "spawn" not in str(
            model.get("pending")
        ):
            break
        time.sleep(0.5)
    if pod is None:
        journey.fail(spawner_component("spawn"), f"no notebook Pod for {user!r} in namespace {hub.namespace}: "
                     + first_error(hub.log()), hub.log_tail())
    claim = next((v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes", [])
                  if "persistentVolumeClaim" in v), None)
    journey.check(claim is not None, spawner_component("pod"), "the notebook Pod mounts no PersistentVolumeClaim",
                  json.dumps(pod["spec"].get("volumes"), indent=1))
    p = cluster.kubectl("get", "-o", "json", "-n", hub.namespace, "pvc", claim, check=False)
    journey.check(p.returncode == 0, spawner_component("pvc"), f"the Pod's PVC {claim} is not on the API server: "
                  + p.stderr.strip())
    pvc = json.loads(p.stdout)
    sent = hub.record_dir / f"pod-{pod['metadata']['name']}.json"
    journey.check(sent.is_file(), spawner_component("pod"), f"modify_pod_hook recorded no manifest at {sent}")
    return Spawn(user, pod, pvc, json.loads(sent.read_text()))


def server_state(journey: Journey, browser: Browser, user: str) -> dict:
    """The hub's user model (GET /hub/api/users/NAME, as the admin page reads it)."""
    status, model = browser.api("GET", f"/users/{urllib.parse.quote(user)}")
    journey.check(status == 200, hub_component("users API"), f"GET /hub/api/users/{user} answered {status}: {model}")
    return model


def wait_spawn_given_up(journey: Journey, hub: Hub, cluster: Cluster, admin: Browser, user: str,
                        pod_name: str, timeout: int) -> None:
    """Waits until the hub gives up the pending spawn after `timeout` seconds (Spawner.start_timeout)
    and KubeSpawner's stop has deleted the Pod."""
    deadline = time.monotonic() + timeout + STOP_TIMEOUT
    while time.monotonic() < deadline:
        model = server_state(journey, admin, user)
        gone = cluster.kubectl("get", "-n", hub.namespace, "pod", pod_name, check=False).returncode != 0
        if gone and not model.get("servers") and not model.get("pending"):
            return
        time.sleep(1)
    journey.fail(hub_component("spawn"), f"{user!r}'s pending spawn did not end within {timeout + STOP_TIMEOUT} s "
                 "(start_timeout + stop)", hub.log_tail())


# -- the gateway --------------------------------------------------------------------------------

K8S_MANIFESTS = HERE / "k8s"
GATEWAY_START_TIMEOUT = 60  # seconds until the gateway answers /api/health, the controller logs "started!"


def gateway_component(part: str = "") -> str:
    import dask_gateway_server

    return f"dask-gateway-server {dask_gateway_server.__version__}" + (f" {part}" if part else "")


def install_dask_gateway_crd(cluster: Cluster) -> None:
    """The DaskCluster CRD as the dask-gateway chart ships it (k8s/daskclusters-crd.yaml), established,
    and the chart's ClusterRoles for the gateway and the controller (k8s/dask-gateway-rbac.yaml)."""
    for name in ("daskclusters-crd.yaml", "dask-gateway-rbac.yaml"):
        cluster.kubectl("apply", "--server-side", "--validate=strict", "--field-manager=pangeo-render-journey",
                        "-f", str(K8S_MANIFESTS / name))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/daskclusters.gateway.dask.org")


def cluster_identity(cluster: Cluster, user: str, clusterrole: str) -> pathlib.Path:
    """A client identity bound cluster-wide to `clusterrole` (as the chart's ClusterRoleBindings
    bind its ServiceAccounts); its kubeconfig."""
    out = subprocess.run(
        [str(harness.REPO / "scripts" / "test-cluster"), "user", "--dir", str(cluster.dir), user, clusterrole],
        capture_output=True, text=True, timeout=120,
    )
    if out.returncode != 0:
        raise ClusterError(f"scripts/test-cluster user {user} {clusterrole}: {out.stderr.strip()}")
    return pathlib.Path(out.stdout.strip().splitlines()[-1])


def strict_dry_run(cluster: Cluster, obj: dict) -> subprocess.CompletedProcess:
    """The API server's answer to creating `obj` with strict field validation (an unknown or
    duplicate field is an error, not a silently dropped warning), nothing stored."""
    return cluster.kubectl("create", "--dry-run=server", "--validate=strict", "-o", "json", "-f", "-",
                           input=json.dumps(obj), check=False)


def gateway_token(journey: Journey, cluster: Cluster, namespace: str) -> str:
    """The gateway container's JUPYTERHUB_API_TOKEN as templates/gateway/deployment.yaml l.60-70
    (2024.1.0 and 2026.3.0 alike) sets it: from the chart's own Secret, whose jupyterhub-api-token
    key is gateway.auth.jupyterhub.apiToken (templates/gateway/secret.yaml), when that is set; else
    from the Secret `apiTokenFromSecretName`, key `apiTokenFromSecretKey` (chart defaults `hub`,
    `hub.services.dask-gateway.apiToken`), read here from the API server."""
    import gateway_config

    auth = gateway_config.values(journey.r.values, journey.target)["gateway"]["auth"]["jupyterhub"]
    if auth.get("apiToken"):
        return auth["apiToken"]
    name, key = auth["apiTokenFromSecretName"], auth["apiTokenFromSecretKey"]
    data = read_secret(journey, cluster, namespace, name, gateway_component("start"))
    journey.check(key in data, gateway_component("start"), f"Secret {name} has no key {key}")
    return data[key]


class Gateway:
    """The real dask-gateway-server and its kube-controller, configured as the dask-gateway chart
    configures their pods (gateway_config.py), in the hub's namespace (the release namespace), each
    running as an identity with exactly the chart's ClusterRole."""

    def __init__(self, journey: Journey, workdir: pathlib.Path, cluster: Cluster, hub: Hub):
        import gateway_config

        r = journey.r
        self.journey = journey
        self.cluster = cluster
        self.release = gateway_config.Release(hub.release, hub.namespace)
        self.port = harness.free_port()
        server = str(pathlib.Path(sys.executable).parent / "dask-gateway-server")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "DASK_", "KUBECONFIG"))}
        hub_port = json.loads(hub.env["PANGEO_HUB_LOCAL"])["hub_port"]

        config = gateway_config.write(workdir / "gateway" / "dask_gateway_config.py",
                                      gateway_config.gateway_config(r.values, journey.target, self.release, self.port))
        env = dict(base)
        env.update({
            "KUBECONFIG": str(cluster_identity(cluster, "journey-dask-gateway-api", "pangeo-test-dask-gateway-api")),
            "JUPYTERHUB_API_TOKEN": gateway_token(journey, cluster, hub.namespace),
            # What Kubernetes tells every pod about the `hub` Service of its namespace. LOCAL: the
            # hub's API port on 127.0.0.1.
            "HUB_SERVICE_HOST": "127.0.0.1",
            "HUB_SERVICE_PORT": str(hub_port),
        })
        self.server = harness.Server([server, "--config", str(config)], config.parent, env,
                                     config.parent / "dask-gateway.log")

        config = gateway_config.write(workdir / "controller" / "dask_gateway_config.py",
                                      gateway_config.controller_config(r.values, journey.target, self.release,
                                                                       harness.free_port()))
        self.controller_config = config
        env = dict(base)
        env["KUBECONFIG"] = str(cluster_identity(cluster, "journey-dask-gateway-controller",
                                                 "pangeo-test-dask-gateway-controller"))
        self.controller = harness.Server([server, "kube-controller", "--config", str(config)], config.parent, env,
                                         config.parent / "dask-gateway-controller.log")

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server.start()
        self.controller.start()
        deadline = time.monotonic() + GATEWAY_START_TIMEOUT
        server_up = controller_up = False
        while not (server_up and controller_up):
            for what, proc in (("start", self.server), ("controller start", self.controller)):
                if proc.proc.poll() is not None:
                    self.journey.fail(gateway_component(what), f"exited with {proc.proc.returncode}: "
                                      + first_error(proc.log()), self.log_tail())
            if time.monotonic() > deadline:
                self.journey.fail(gateway_component("start"), f"not ready within {GATEWAY_START_TIMEOUT} s",
                                  self.log_tail())
            if not server_up:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    conn.request("GET", "/api/health")
                    server_up = conn.getresponse().status == 200
                    conn.close()
                except OSError:
                    pass
            controller_up = controller_up or "started!" in self.controller.log()
            time.sleep(0.3)

    def stop(self) -> None:
        self.controller.stop()
        self.server.stop()

    def log_tail(self, n: int = 2500) -> str:
        return (f"gateway log (end):\n{self.server.log()[-n:]}\n"
                f"controller log (end):\n{self.controller.log()[-n:]}")

    def in_process_controller(self):
        """The real KubeController, initialised from the controller's config file but not started:
        its `make_pod` builds pods exactly as the running controller does."""
        from dask_gateway_server.backends.kubernetes.controller import KubeController

        ctl = KubeController()
        ctl.initialize([f"--config={self.controller_config}"])
        return ctl
