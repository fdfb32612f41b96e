"""The dask-gateway chart's configuration files, mirrored for a gateway on 127.0.0.1 (issue 12).

What the dask-gateway chart (resources/helm/dask-gateway at tags 2024.1.0 = 52a52304, used by
DaskHub 2024.1.1, and 2026.3.0 = 82efdfab, used by the DaskHub 2026.3.0 target) makes of its values
before its pods start: the gateway's dask_gateway_config.py (templates/gateway/configmap.yaml) and
the controller's (templates/controller/configmap.yaml). This is the project's own rewrite: each
step names the upstream lines it mirrors ("l.A-B"); the two tags differ only in the JupyterHub
authentication lines, and both forms are here. The values are what Helm hands the subchart
(chart_values.subchart_values: the chart's values.yaml under DaskHub's under the rendered
daskhub.yaml). Only what ties the processes to their pods is replaced, at the end of each file and
marked LOCAL.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pathlib

import chart_values

# Chart target -> the dask-gateway release it installs.
DASK_GATEWAY_VERSION = {"daskhub-2024.1.1": "2024.1.0", "daskhub-2026.3.0": "2026.3.0"}


def values(rendered_values: dict, target: str) -> dict:
    """The dask-gateway subchart's .Values. A published chart carries its version where the source
    says "set-by-chartpress" (chartpress sets the image tags at release)."""
    v = chart_values.subchart_values(rendered_values, target, "dask-gateway")
    version = DASK_GATEWAY_VERSION[target]
    for image in (v["gateway"]["image"], v["controller"]["image"], v["gateway"]["backend"]["image"]):
        if image.get("tag") == "set-by-chartpress":
            image["tag"] = version
    return v


@dataclasses.dataclass
class Release:
    """The names the chart derives from the Helm release (templates/_helpers.tpl)."""

    name: str
    namespace: str

    @property
    def fullname(self) -> str:
        # dask-gateway.fullname (no fullnameOverride/nameOverride here): the release name if it
        # contains the chart name, else "<release>-dask-gateway"; at most 63 characters.
        full = self.name if "dask-gateway" in self.name else f"{self.name}-dask-gateway"
        return full[:63].rstrip("-")

    @property
    def api_name(self) -> str:  # dask-gateway.apiName
        return f"api-{self.fullname}"[:63].rstrip("-")

    @property
    def api_url(self) -> str:
        # Where scheduler pods call the gateway: its Service in the release namespace
        # (gateway/configmap.yaml l.41, controller/configmap.yaml l.12).
        return f"http://{self.api_name}.{self.namespace}:8000/api"


_GATEWAY_CHART_CONFIG = '''\
# dask_gateway_config.py as the dask-gateway chart {version} writes it (templates/gateway/configmap.yaml),
# mirrored by tests/python/gateway_config.py; the local stand-ins are at the end.
import os
import json
import sys

# l.19-35: the values minus gateway.extraConfig and the JupyterHub API token (which the pod gets
# as JUPYTERHUB_API_TOKEN from the chart's Secret instead), and a reader for them.
_PROPERTIES = json.loads({properties!r})

def get_property(key, default=None):
    """Read a property from the configured helm values."""
    value = _PROPERTIES
    for key2 in key.split("."):
        if not isinstance(value, dict) or key2 not in value:
            return default
        value = value[key2]
    return value

c.DaskGateway.log_level = {loglevel!r}

# l.39-45: addresses and the backend.
c.DaskGateway.address = ":8000"
c.KubeBackend.api_url = {api_url!r}
c.DaskGateway.backend_class = "dask_gateway_server.backends.kubernetes.KubeBackend"
c.KubeBackend.gateway_instance = {instance!r}

# l.47-54: the default scheduler/worker image.
image_name = get_property("gateway.backend.image.name")
if image_name:
    image_tag = get_property("gateway.backend.image.tag")
    c.KubeClusterConfig.image = (
        "%s:%s" % (image_name, image_tag) if image_tag else image_name
    )
    c.KubeClusterConfig.image_pull_secrets = get_property("gateway.backend.imagePullSecrets")

# l.56-80: gateway.backend.* forwarded to KubeClusterConfig.
for field, prop_name in [
    ("scheduler_cores", "scheduler.cores.request"),
    ("scheduler_cores_limit", "scheduler.cores.limit"),
    ("scheduler_memory", "scheduler.memory.request"),
    ("scheduler_memory_limit", "scheduler.memory.limit"),
    ("scheduler_extra_container_config", "scheduler.extraContainerConfig"),
    ("scheduler_extra_pod_config", "scheduler.extraPodConfig"),
    ("worker_cores", "worker.cores.request"),
    ("worker_cores_limit", "worker.cores.limit"),
    ("worker_memory", "worker.memory.request"),
    ("worker_memory_limit", "worker.memory.limit"),
    ("worker_threads", "worker.threads"),
    ("worker_extra_container_config", "worker.extraContainerConfig"),
    ("worker_extra_pod_config", "worker.extraPodConfig"),
    ("image_pull_policy", "image.pullPolicy"),
    ("environment", "environment"),
    ("namespace", "namespace"),
]:
    value = get_property("gateway.backend." + prop_name)
    if value is not None:
        setattr(c.KubeClusterConfig, field, value)

# l.82-114: authentication (only the branch DaskHub's auth.type selects is reproduced).
auth_type = get_property("gateway.auth.type")
if auth_type == "jupyterhub":
    c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
    api_url = get_property("gateway.auth.jupyterhub.apiUrl")
    if api_url is None:
        try:
            # The hub's Service in the same namespace, from the variables Kubernetes sets.
            api_url = "http://{{HUB_SERVICE_HOST}}:{{HUB_SERVICE_PORT}}/hub/api".format(**os.environ)
        except Exception:
            raise ValueError(
                "Failed to infer JupyterHub API url from environment, "
                "please specify `gateway.auth.jupyterhub.apiUrl` in "
                "your config file"
            )
{auth_tail}
else:
    raise ValueError("this test reproduces only the chart's jupyterhub auth branch, not %r" % auth_type)
'''

# gateway/configmap.yaml l.106 at 2024.1.0 (a nested section, which traitlets hands to the
# authenticator the gateway creates as its child) ...
_AUTH_TAIL_2024 = "    c.DaskGateway.JupyterHubAuthenticator.jupyterhub_api_url = api_url"
# ... and l.106-109 at 2026.3.0.
_AUTH_TAIL_2026 = """\
    c.JupyterHubAuthenticator.jupyterhub_api_url = api_url
    service_name = get_property("gateway.auth.jupyterhub.jupyterhubServiceName")
    if service_name is not None:
        c.JupyterHubAuthenticator.jupyterhub_service_name = service_name"""

_CONTROLLER_CHART_CONFIG = '''\
# dask_gateway_config.py of the controller as the dask-gateway chart {version} writes it
# (templates/controller/configmap.yaml l.10-28), mirrored by tests/python/gateway_config.py; the local
# stand-ins are at the end.
c.KubeController.address = ":8000"
c.KubeController.api_url = {api_url!r}
c.KubeController.gateway_instance = {instance!r}
c.KubeController.proxy_prefix = {prefix!r}
c.KubeController.proxy_web_middlewares = [
  {{"name": {middleware!r},
  "namespace": {namespace!r}}}
]
c.KubeController.log_level = {loglevel!r}
c.KubeController.completed_cluster_max_age = {max_age!r}
c.KubeController.completed_cluster_cleanup_period = {cleanup_period!r}
c.KubeController.backoff_base_delay = {backoff_base!r}
c.KubeController.backoff_max_delay = {backoff_max!r}
c.KubeController.k8s_api_rate_limit = {rate!r}
c.KubeController.k8s_api_rate_limit_burst = {burst!r}
{tcp_entrypoint}'''

_LOCAL = '''
# --- LOCAL (tests/python/gateway_config.py) ----------------------------------------------------
# The pod listens on :8000 of its own network address; here a free port on 127.0.0.1.
c.{app}.address = "127.0.0.1:{port}"
'''

_LOCAL_NAMESPACE = '''\
# KubeClusterConfig.namespace defaults to the pod's own namespace, read from its service-account
# files; here there are none, so the release namespace is given.
c.KubeClusterConfig.namespace = {namespace!r}
'''


def _helm_number(v):
    """How `{{ .Values.x }}` prints a YAML number: integers without a decimal point."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def gateway_config(rendered_values: dict, target: str, release: Release, port: int) -> str:
    """The gateway's dask_gateway_config.py."""
    v = values(rendered_values, target)
    gateway = copy.deepcopy(v["gateway"])
    # l.9-13: gateway.extraConfig is taken out, to be pasted at the end.
    extra = gateway.pop("extraConfig", None)
    # l.14-18: so is the JupyterHub API token (the pod gets it from the chart's Secret as
    # JUPYTERHUB_API_TOKEN).
    if gateway["auth"].get("jupyterhub", {}).get("apiToken"):
        gateway["auth"]["jupyterhub"].pop("apiToken")
    version = DASK_GATEWAY_VERSION[target]
    text = _GATEWAY_CHART_CONFIG.format(
        version=version,
        properties=json.dumps({"gateway": gateway}),
        loglevel=v["gateway"]["loglevel"],
        api_url=release.api_url,
        instance=release.fullname,
        auth_tail=_AUTH_TAIL_2024 if version == "2024.1.0" else _AUTH_TAIL_2026,
    )
    # l.116-126: gateway.extraConfig, one block or each key's block in sorted key order.
    if extra:
        if isinstance(extra, str):
            text += "# From gateway.extraConfig\n" + extra + "\n"
        else:
            for key in sorted(extra):
                text += f"# From gateway.extraConfig.{key}\n" + extra[key] + "\n"
    return text + _LOCAL.format(app="DaskGateway", port=port) + _LOCAL_NAMESPACE.format(namespace=release.namespace)


def controller_config(rendered_values: dict, target: str, release: Release, port: int) -> str:
    """The controller's dask_gateway_config.py."""
    v = values(rendered_values, target)
    ctl = v["controller"]
    tcp_port = v["traefik"]["service"]["ports"]["tcp"]["port"]
    text = _CONTROLLER_CHART_CONFIG.format(
        version=DASK_GATEWAY_VERSION[target],
        api_url=release.api_url,
        instance=release.fullname,
        prefix=v["gateway"]["prefix"],
        middleware=f"clusters-prefix-{release.fullname}"[:63].rstrip("-"),
        namespace=release.namespace,
        loglevel=ctl["loglevel"],
        max_age=_helm_number(ctl["completedClusterMaxAge"]),
        cleanup_period=_helm_number(ctl["completedClusterCleanupPeriod"]),
        backoff_base=_helm_number(ctl["backoffBaseDelay"]),
        backoff_max=_helm_number(ctl["backoffMaxDelay"]),
        rate=_helm_number(ctl["k8sApiRateLimit"]),
        burst=_helm_number(ctl["k8sApiRateLimitBurst"]),
        # l.26-28
        tcp_entrypoint='c.KubeController.proxy_tcp_entrypoint = "web"\n' if str(tcp_port) == "web" else "",
    )
    return text + _LOCAL.format(app="KubeController", port=port)


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
