"""Shared helpers for the Python proofs of daskhub.yaml (issue 6).

A rendered fixture is a directory `$PANGEO_RENDERED/<name>/` holding:
  daskhub.yaml  the values file pangeo-render wrote
  password.txt  the admin password it was rendered with (--admin-password-stdin)
  pangeo.yaml   the config it was rendered from (scripts/test-python copies it there)

The hub configuration is loaded the way Z2JH's jupyterhub_config.py does (3.2.1 and 4.4.0 alike):
`c[app].update(cfg)` for every `hub.config` section (minus the secrets the chart injects itself),
then every `hub.extraConfig` snippet exec()'d in sorted key order in the config file's namespace.
The gateway configuration is loaded the way the dask-gateway chart's dask_gateway_config.py does:
the `gateway.extraConfig` snippets are pasted, in sorted key order, into the config file itself.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]

# Chart target -> what runs it. Source: FINDINGS.md section 1 (Z2JH images/hub/requirements.txt).
TARGETS = {
    "daskhub-2024.1.1": {"z2jh": "3.2.1", "jupyterhub": "4.0.2", "dask_gateway_server": "2024.1.0"},
    "daskhub-2026.3.0": {"z2jh": "4.4.0", "jupyterhub": "5.5.0", "dask_gateway_server": "2026.3.0"},
}

# Z2JH's own default for hub.config (values.yaml, identical in 3.2.1 and 4.4.0). Helm merges the
# rendered values over it, so the snippet must win over `authenticator_class: dummy`.
Z2JH_DEFAULT_HUB_CONFIG = {"JupyterHub": {"admin_access": True, "authenticator_class": "dummy"}}

AUTH_SNIPPET_KEY = "jupyterhub.hub.extraConfig.pangeoAuthenticator"
HASH_KEY = "jupyterhub.hub.config.PangeoPasswordAuthenticator.password_hash"
HASH_CONFIG_NAME = "hub.config.PangeoPasswordAuthenticator.password_hash"
ADMINS_KEY = "jupyterhub.hub.config.Authenticator.admin_users"
ALLOWED_KEY = "jupyterhub.hub.config.Authenticator.allowed_users"
OPTIONS_SNIPPET_KEY = "dask-gateway.gateway.extraConfig.optionHandler"

_MISSING = object()


def current_target() -> str:
    """The chart target this venv's JupyterHub version serves."""
    import jupyterhub

    for chart, versions in TARGETS.items():
        if versions["jupyterhub"] == jupyterhub.__version__:
            return chart
    raise RuntimeError(
        f"jupyterhub {jupyterhub.__version__} matches no chart target {sorted(TARGETS)}; "
        "run the tests in a venv from scripts/python-env"
    )


def deep_merge(base: dict, over: dict) -> dict:
    """Helm-style merge: maps merge recursively, everything else from `over` replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _display(path: pathlib.Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


@dataclasses.dataclass
class Rendered:
    name: str
    dir: pathlib.Path
    values: dict
    config: dict
    password: str

    @property
    def daskhub(self) -> pathlib.Path:
        return self.dir / "daskhub.yaml"

    @property
    def chart(self) -> str:
        return str(self.config.get("hub", {}).get("chart", ""))

    @property
    def existing_secret(self) -> str | None:
        """`jupyterhub.hub.existingSecret`: set when the values hold no secret (secrets.inCluster);
        the hub and the gateway then read the secrets from that Secret on the cluster."""
        return self.get("jupyterhub.hub.existingSecret", None)

    def where(self, key: str) -> str:
        """`<rendered file> (from fixtures/<name>/pangeo.yaml): <key>` for failure messages."""
        fixture, _, variant = self.name.partition("@")
        source = f"fixtures/{fixture}/pangeo.yaml" + (f" with hub.chart {variant}" if variant else "")
        return f"{_display(self.daskhub)} (rendered from {source}): {key}"

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """A value by dotted key ("dask-gateway" keeps its dash); fails naming file and key."""
        node: Any = self.values
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                if default is not _MISSING:
                    return default
                raise AssertionError(f"{self.where(key)} is missing (no {'.'.join(parts[: i + 1])})")
            node = node[part]
        return node

    # -- what the config says -------------------------------------------------------------------

    @property
    def admins(self) -> list[str]:
        return list(self.config["hub"]["adminUsers"])

    @property
    def allowed(self) -> list[str]:
        return list(self.config["hub"].get("allowedUsers") or [])

    @property
    def kept_handler(self) -> str | None:
        """The text of the option handler the config keeps (daskGateway.optionHandler.file, copied
        beside the rendered files by scripts/test-python), or None when pangeo-render generates it."""
        kept = (self.config.get("daskGateway") or {}).get("optionHandler")
        if not kept:
            return None
        path = self.dir / pathlib.Path(kept["file"]).name
        if not path.is_file():
            raise AssertionError(f"{self.where(OPTIONS_SNIPPET_KEY)}: the kept handler {kept['file']} was not copied to {path}")
        with open(path, newline="") as f:  # as written: no newline translation
            return f.read()

    @property
    def gateway_image(self) -> str:
        dg = self.config["daskGateway"]
        image = dg.get("image") or self.config["hub"]["singleuser"]["image"]
        return f"{image['name']}:{image['tag']}"


def rendered_root() -> pathlib.Path:
    root = os.environ.get("PANGEO_RENDERED")
    if not root:
        raise RuntimeError("PANGEO_RENDERED is not set: point it at the rendered fixtures (see scripts/test-python)")
    path = pathlib.Path(root)
    if not path.is_dir():
        raise RuntimeError(f"PANGEO_RENDERED={root} is not a directory")
    return path


def discover() -> list[Rendered]:
    out = []
    for d in sorted(rendered_root().iterdir()):
        if not (d / "daskhub.yaml").is_file():
            continue
        values = yaml.safe_load((d / "daskhub.yaml").read_text()) or {}
        config_file = d / "pangeo.yaml"
        config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
        password_file = d / "password.txt"
        password = password_file.read_text().rstrip("\r\n") if password_file.is_file() else ""
        out.append(Rendered(d.name, d, values, config or {}, password))
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the hub ------------------------------------------------------------------------------------


def hub_section(r: Rendered, password_hash: Any = _MISSING, extra_config: dict | None = None) -> dict:
    """jupyterhub.hub as Helm hands it to the chart: Z2JH defaults under the rendered values
    (plus a test's extra hub.config, e.g. a broken hash)."""
    hub = r.get("jupyterhub.hub")
    hub = json.loads(json.dumps(hub))  # deep copy, and proves it is plain data
    hub["config"] = deep_merge(Z2JH_DEFAULT_HUB_CONFIG, hub.get("config") or {})
    if extra_config:
        hub["config"] = deep_merge(hub["config"], extra_config)
    if password_hash is not _MISSING:
        hub["config"].setdefault("PangeoPasswordAuthenticator", {})["password_hash"] = password_hash
    return hub


# What the generated jupyterhub_config.py does, step by step like Z2JH's. The harness's own
# settings (local ports, sqlite in a temp dir, the proxy from npm) stand in for the chart's fixed
# Kubernetes settings and never touch authentication.
_HUB_CONFIG_TEMPLATE = '''\
# Test stand-in for Z2JH's jupyterhub_config.py, written by tests/python/harness.py.
import json as _json

with open({values_path!r}) as _f:
    _hub = _json.load(_f)

# Local hosting instead of the chart's Kubernetes settings.
_local = {local!r}
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = _local["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = _local["hub_port"]
c.JupyterHub.db_url = "sqlite:///" + _local["dir"] + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = _local["dir"] + "/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = _local["dir"] + "/jupyterhub.pid"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.cleanup_servers = False
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % _local["proxy_api_port"]
c.ConfigurableHTTPProxy.command = [_local["chp"]]
c.ConfigurableHTTPProxy.auth_token = _local["proxy_token"]

# As Z2JH: load hub.config, except the secrets the chart injects from its own Secret.
for app, cfg in _hub.get("config", {{}}).items():
    if app == "JupyterHub":
        cfg.pop("proxy_auth_token", None)
        cfg.pop("cookie_secret", None)
        cfg.pop("services", None)
    elif app == "ConfigurableHTTPProxy":
        cfg.pop("auth_token", None)
    elif app == "CryptKeeper":
        cfg.pop("keys", None)
    c[app].update(cfg)

# As Z2JH: hub.services (a map in the chart, a list in JupyterHub); the token the chart would
# read from its Secret is the rendered apiToken, or a generated one.
c.JupyterHub.services = []
for key, service in _hub.get("services", {{}}).items():
    service.setdefault("name", key)
    token = service.pop("apiToken", None) or _local["proxy_token"] + key.encode().hex()
    service["api_token"] = token
    c.JupyterHub.services.append(service)

# As Z2JH: execute hub.extraConfig entries in sorted key order, in this file's namespace.
# (Compiled with the rendered key as file name, so a traceback names it.)
for key, config_py in sorted(_hub.get("extraConfig", {{}}).items()):
    print(f"Loading extra config: {{key}}")
    exec(compile(config_py, {display!r} + ": jupyterhub.hub.extraConfig." + key, "exec"))
'''


def write_hub_config(r: Rendered, workdir: pathlib.Path, *, chp: str = "configurable-http-proxy",
                     password_hash: Any = _MISSING, extra_config: dict | None = None) -> dict:
    """Writes jupyterhub_config.py + values.json into workdir; returns the local settings."""
    workdir.mkdir(parents=True, exist_ok=True)
    values_path = workdir / "hub-values.json"
    values_path.write_text(json.dumps(hub_section(r, password_hash, extra_config)))
    local = {
        "dir": str(workdir),
        "port": free_port(),
        "hub_port": free_port(),
        "proxy_api_port": free_port(),
        "chp": chp,
        "proxy_token": os.urandom(16).hex(),
    }
    text = _HUB_CONFIG_TEMPLATE.format(values_path=str(values_path), local=local, display=_display(r.daskhub))
    (workdir / "jupyterhub_config.py").write_text(text)
    local["config_file"] = str(workdir / "jupyterhub_config.py")
    return local


# -- server processes ---------------------------------------------------------------------------


class Server:
    """A server process in a process group of its own (so what it starts goes down with it), logging
    to a file. Its group id is recorded in PANGEO_PID_DIR, where scripts/test-python finds and kills
    what is left of the group if pytest itself is killed."""

    STOP_TIMEOUT = 15  # seconds between SIGTERM and SIGKILL

    def __init__(self, argv: list[str], workdir: pathlib.Path, env: dict[str, str], log_path: pathlib.Path):
        self.argv, self.workdir, self.env, self.log_path = argv, workdir, env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        pid_dir = os.environ.get("PANGEO_PID_DIR")
        if pid_dir:
            pathlib.Path(pid_dir, str(self.proc.pid)).write_text(str(self.workdir) + "\n")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if the process still runs after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL to what is left of it."""
        if self.proc is None or self.proc.poll() is not None and not self._group_alive():
            return
        for sig, wait in ((signal.SIGTERM, self.STOP_TIMEOUT), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            if not self._group_alive():
                break
            time.sleep(0.5)
            if not self._group_alive():
                break
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def chp_command() -> str:
    """configurable-http-proxy from npm (scripts/python-env installs it and prints PANGEO_CHP)."""
    chp = os.environ.get("PANGEO_CHP") or shutil.which("configurable-http-proxy")
    if not chp:
        raise RuntimeError("configurable-http-proxy not found: set PANGEO_CHP (scripts/python-env prints it)")
    return chp


class HubServer(Server):
    """A real `jupyterhub` process on 127.0.0.1:`port`, run with `config_file` in `workdir` (where it
    keeps its database, cookie secret and the pid of its proxy), logging to jupyterhub.log there."""

    def __init__(self, config_file: str | pathlib.Path, workdir: pathlib.Path, port: int, env: dict[str, str]):
        super().__init__([sys.executable, "-m", "jupyterhub", f"--config={config_file}"], workdir, env,
                         workdir / "jupyterhub.log")
        self.port = port

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def wait_ready(self, timeout: float) -> str | None:
        """Waits until GET /hub/login answers 200: None then, else what went wrong instead."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"jupyterhub exited with {self.proc.returncode}"
            try:
                if self.request("GET", "/hub/login")[0] == 200:
                    return None
            except OSError:
                pass
            time.sleep(0.3)
        return f"/hub/login did not answer within {timeout} s"

    def stop(self) -> None:
        super().stop()
        self._stop_proxy()

    def _stop_proxy(self) -> None:
        """JupyterHub starts the proxy in a session of its own and records its pid in the work dir;
        a hub that died without stopping it leaves it running."""
        try:
            pid = int((self.workdir / "jupyterhub-proxy.pid").read_text().strip())
            cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"configurable-http-proxy" not in cmdline:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not pathlib.Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                    return
                time.sleep(0.1)


def _is_zombie(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# -- the gateway --------------------------------------------------------------------------------

_GATEWAY_CONFIG_TEMPLATE = '''\
# Test stand-in for the dask-gateway chart's dask_gateway_config.py, written by tests/python/harness.py.
c.DaskGateway.backend_class = "dask_gateway_server.backends.kubernetes.KubeBackend"
# Authentication is not under test here; the chart's jupyterhub auth needs a live hub.
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.KubeBackend.api_url = "http://127.0.0.1:8000/api"
c.KubeBackend.gateway_instance = "pangeo-render-test"
'''


def write_gateway_config(r: Rendered, workdir: pathlib.Path) -> pathlib.Path:
    """Like the chart: each gateway.extraConfig snippet pasted into the config file, sorted by key."""
    extra = r.get("dask-gateway.gateway.extraConfig")
    parts = [_GATEWAY_CONFIG_TEMPLATE]
    if isinstance(extra, str):
        parts.append("# From gateway.extraConfig\n" + extra)
    else:
        for key in sorted(extra):
            parts.append(f"# From gateway.extraConfig.{key}\n" + extra[key])
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "dask_gateway_config.py"
    path.write_text("\n".join(parts) + "\n")
    return path
