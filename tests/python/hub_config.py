# The hub's configuration file as Z2JH 3.2.1 and 4.4.0 run it, for a hub on 127.0.0.1 (issue 12).
#
# JupyterHub loads this file with `--config` (traitlets provides `c` and `get_config`). It is this
# project's own rewrite of Z2JH's jupyterhub/files/hub/jupyterhub_config.py and z2jh.py at the
# pinned tags (3.2.1 = c0a696f5, used by DaskHub 2024.1.1; 4.4.0 = 5c5f5df7, used by the DaskHub
# 2026.3.0 target): every step that turns the values into JupyterHub and KubeSpawner settings is
# here, in the same order, and names the upstream lines it mirrors as "3.2.1 l.A-B / 4.4.0 l.C-D".
# Where the two tags differ, both behaviours are here, chosen by the chart version in the values.
#
# Only what ties the hub to its pod is replaced, each marked LOCAL: the chart's Services and DNS
# names become 127.0.0.1 ports, the proxy is started by the hub instead of running in its own pod,
# and KubeSpawner reads a kubeconfig (the test control plane) instead of its in-cluster account.
#
# Inputs (written by tests/python/journey.py):
#   PANGEO_HUB_MOUNTS  a directory laid out like the hub pod's /usr/local/etc/jupyterhub:
#                      secret/<key> (the hub Secret, chart_values.hub_secret) and config/<name>
#   PANGEO_HUB_LOCAL   JSON: ports, the proxy command, a directory for recorded manifests
#   POD_NAMESPACE, HELM_RELEASE_NAME, CONFIGPROXY_AUTH_TOKEN: the hub container's env as the chart
#                      sets it (templates/hub/deployment.yaml); KUBECONFIG for kubernetes_asyncio.

import glob
import json
import os
import re
import sys
from collections.abc import Mapping
from functools import lru_cache

import yaml
from jupyterhub.utils import url_path_join
from kubernetes_asyncio import client

c = get_config()  # noqa: F821 (provided by traitlets)

MOUNTS = os.environ["PANGEO_HUB_MOUNTS"]
LOCAL = json.loads(os.environ["PANGEO_HUB_LOCAL"])

# --- z2jh.py (3.2.1 and 4.4.0 alike; lines below are 3.2.1's, 4.4.0 adds a blank line at l.6) ----


def _merge_dictionaries(a, b):
    # z2jh.py l.75-89: recursive merge, b wins.
    merged = a.copy()
    for key in b:
        if key in a and isinstance(a[key], Mapping) and isinstance(b[key], Mapping):
            merged[key] = _merge_dictionaries(a[key], b[key])
        else:
            merged[key] = b[key]
    return merged


@lru_cache
def _load_config():
    # z2jh.py l.13-30: secret/values.yaml, then existing-secret/values.yaml merged over it.
    cfg = {}
    for source in ("secret/values.yaml", "existing-secret/values.yaml"):
        path = os.path.join(MOUNTS, source)
        if os.path.exists(path):
            print(f"Loading {path}")
            with open(path) as f:
                cfg = _merge_dictionaries(cfg, yaml.safe_load(f))
        else:
            print(f"No config at {path}")
    return cfg


@lru_cache
def get_secret_value(key, default="never-explicitly-set"):
    # z2jh.py l.45-57: a key of the user's existing Secret, else of the chart's Secret.
    for source in ("existing-secret", "secret"):
        path = os.path.join(MOUNTS, source, key)
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
    if default != "never-explicitly-set":
        return default
    raise Exception(f"{key} not found in either k8s Secret!")


def get_config(key, default=None):  # noqa: F811 (z2jh's name, shadows traitlets' after `c` is made)
    # z2jh.py l.92-111: a dotted path into the values; a missing or non-map parent gives default.
    value = _load_config()
    for level in key.split("."):
        if not isinstance(value, dict) or level not in value:
            return default
        value = value[level]
    return value


def set_config_if_not_none(cparent, name, key):
    # z2jh.py l.114-121
    data = get_config(key)
    if data is not None:
        setattr(cparent, name, data)


def camelCaseify(s):
    # jupyterhub_config.py l.26-32
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), s)


# Z2JH 4 changed labels, volumes, the PVC name and the hub.config check; the rest is the same.
Z2JH_MAJOR = int(str(get_config("Chart.Version")).split(".")[0])

# --- jupyterhub_config.py ----------------------------------------------------------------------

# 3.2.1/4.4.0 l.35-39 configure tornado's curl HTTP client (pycurl is in the hub image). LOCAL: not
# done; it only changes how the hub talks to the proxy, not what it configures.

# l.41
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"

# l.43-48: the proxy's API Service. LOCAL: the hub starts configurable-http-proxy itself on
# 127.0.0.1 (the chart runs it in its own pod); both read CONFIGPROXY_AUTH_TOKEN from the env.
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{LOCAL['proxy_api_port']}"
c.ConfigurableHTTPProxy.should_start = True
c.ConfigurableHTTPProxy.command = [LOCAL["chp"]]
c.JupyterHub.bind_url = f"http://127.0.0.1:{LOCAL['port']}"
c.JupyterHub.pid_file = os.path.join(LOCAL["dir"], "jupyterhub.pid")

# l.50-59
c.JupyterHub.cleanup_servers = False
c.JupyterHub.last_activity_interval = 60
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}

# l.62-77: the database. The hub runs in LOCAL["dir"], as the chart's hub runs in /srv/jupyterhub
# (the PVC), so sqlite-pvc's relative path lands there.
db_type = get_config("hub.db.type")
if db_type == "sqlite-pvc":
    c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
elif db_type == "sqlite-memory":
    c.JupyterHub.db_url = "sqlite://"
else:
    set_config_if_not_none(c.JupyterHub, "db_url", "hub.db.url")
db_password = get_secret_value("hub.db.password", None)
if db_password is not None:
    if db_type == "mysql":
        os.environ["MYSQL_PWD"] = db_password
    elif db_type == "postgres":
        os.environ["PGPASSWORD"] = db_password
    else:
        print(f"Warning: hub.db.password is ignored for hub.db.type={db_type}")

# l.80-95: hub.* keys passed to c.JupyterHub.
for trait, cfg_key in (
    ("concurrent_spawn_limit", None),
    ("active_server_limit", None),
    ("base_url", None),
    ("allow_named_servers", None),
    ("named_server_limit_per_user", None),
    ("authenticate_prometheus", None),
    ("redirect_to_server", None),
    ("shutdown_on_logout", None),
    ("template_paths", None),
    ("template_vars", None),
):
    if cfg_key is None:
        cfg_key = camelCaseify(trait)
    set_config_if_not_none(c.JupyterHub, trait, "hub." + cfg_key)

# l.97-107: where the hub listens and how others reach it. LOCAL: 127.0.0.1 instead of the hub
# Service; the spawned pod's JUPYTERHUB_API_URL is built from hub_connect_url.
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{LOCAL['hub_port']}"
c.JupyterHub.hub_connect_url = f"http://127.0.0.1:{LOCAL['hub_port']}"

# 3.2.1 l.109-126 / 4.4.0 l.109-135: the labels of every object KubeSpawner makes.
common_labels = c.KubeSpawner.common_labels = {}
app_name = get_config("nameOverride", default=get_config("Chart.Name", "jupyterhub"))
release = get_config("Release.Name")
chart_name = get_config("Chart.Name")
chart_version = get_config("Chart.Version")
if Z2JH_MAJOR >= 4:
    common_labels["app.kubernetes.io/name"] = common_labels["app"] = app_name
    if release:
        common_labels["app.kubernetes.io/instance"] = common_labels["release"] = release
    if chart_name and chart_version:
        common_labels["helm.sh/chart"] = common_labels["chart"] = f"{chart_name}-{chart_version.replace('+', '_')}"
    common_labels["app.kubernetes.io/managed-by"] = "kubespawner"
else:
    common_labels["app"] = app_name
    common_labels["heritage"] = "jupyterhub"
    if chart_name and chart_version:
        common_labels["chart"] = "{}-{}".format(chart_name, chart_version.replace("+", "_"))
    if release:
        common_labels["release"] = release

# 3.2.1 l.128 / 4.4.0 l.136: the namespace is the hub pod's own (POD_NAMESPACE from the env).
c.KubeSpawner.namespace = os.environ.get("POD_NAMESPACE", "default")

# 3.2.1 l.130-136 / 4.4.0 l.138-143
set_config_if_not_none(c.Spawner, "consecutive_failure_limit", "hub.consecutiveFailureLimit")

# 3.2.1 l.138-174 / 4.4.0 l.145-181: singleuser.* keys passed to c.KubeSpawner. This is where
# singleuser.cpu/memory become cpu_/mem_ limit and guarantee, extraEnv becomes `environment`,
# and nodeSelector `node_selector`.
for trait, cfg_key in (
    ("pod_name_template", None),
    ("start_timeout", None),
    ("image_pull_policy", "image.pullPolicy"),
    ("events_enabled", "events"),
    ("extra_labels", None),
    ("extra_annotations", None),
    ("uid", None),
    ("fs_gid", None),
    ("service_account", "serviceAccountName"),
    ("storage_extra_labels", "storage.extraLabels"),
    ("node_selector", None),
    ("node_affinity_required", "extraNodeAffinity.required"),
    ("node_affinity_preferred", "extraNodeAffinity.preferred"),
    ("pod_affinity_required", "extraPodAffinity.required"),
    ("pod_affinity_preferred", "extraPodAffinity.preferred"),
    ("pod_anti_affinity_required", "extraPodAntiAffinity.required"),
    ("pod_anti_affinity_preferred", "extraPodAntiAffinity.preferred"),
    ("lifecycle_hooks", None),
    ("init_containers", None),
    ("extra_containers", None),
    ("mem_limit", "memory.limit"),
    ("mem_guarantee", "memory.guarantee"),
    ("cpu_limit", "cpu.limit"),
    ("cpu_guarantee", "cpu.guarantee"),
    ("extra_resource_limits", "extraResource.limits"),
    ("extra_resource_guarantees", "extraResource.guarantees"),
    ("environment", "extraEnv"),
    ("profile_list", None),
    ("extra_pod_config", None),
):
    if cfg_key is None:
        cfg_key = camelCaseify(trait)
    set_config_if_not_none(c.KubeSpawner, trait, "singleuser." + cfg_key)

# 3.2.1 l.176-182 / 4.4.0 l.183-189: the image.
image = get_config("singleuser.image.name")
if image:
    tag = get_config("singleuser.image.tag")
    if tag:
        image = f"{image}:{tag}"
    c.KubeSpawner.image = image

# 3.2.1 l.189-191 / 4.4.0 l.196-198
c.KubeSpawner.allow_privilege_escalation = get_config("singleuser.allowPrivilegeEscalation")

# 3.2.1 l.195-205 / 4.4.0 l.202-212: pull secrets. get_name("image-pull-secret") reads the
# ConfigMap's name entry (config/<name>).
image_pull_secrets = []
if get_config("imagePullSecret.automaticReferenceInjection") and get_config("imagePullSecret.create"):
    with open(os.path.join(MOUNTS, "config", "image-pull-secret")) as f:
        image_pull_secrets.append(f.read())
if get_config("imagePullSecrets"):
    image_pull_secrets.extend(get_config("imagePullSecrets"))
if get_config("singleuser.image.pullSecrets"):
    image_pull_secrets.extend(get_config("singleuser.image.pullSecrets"))
if image_pull_secrets:
    c.KubeSpawner.image_pull_secrets = image_pull_secrets

# 3.2.1 l.207-211 / 4.4.0 l.214-218: scheduler and priority class (names from the ConfigMap).
if get_config("scheduling.userScheduler.enabled"):
    with open(os.path.join(MOUNTS, "config", "user-scheduler")) as f:
        c.KubeSpawner.scheduler_name = f.read()
if get_config("scheduling.podPriority.enabled"):
    with open(os.path.join(MOUNTS, "config", "priority")) as f:
        c.KubeSpawner.priority_class_name = f.read()

# 3.2.1 l.213-239 / 4.4.0 l.220-246: node-purpose affinity.
match_node_purpose = get_config("scheduling.userPods.nodeAffinity.matchNodePurpose")
if match_node_purpose:
    node_selector = dict(
        matchExpressions=[dict(key="hub.jupyter.org/node-purpose", operator="In", values=["user"])],
    )
    if match_node_purpose == "prefer":
        c.KubeSpawner.node_affinity_preferred.append(dict(weight=100, preference=node_selector))
    elif match_node_purpose == "require":
        c.KubeSpawner.node_affinity_required.append(node_selector)
    elif match_node_purpose != "ignore":
        raise ValueError(f"Unrecognized value for matchNodePurpose: {match_node_purpose}")

# 3.2.1 l.241-246 / 4.4.0 l.248-253: scheduling.userPods.tolerations + singleuser.extraTolerations.
tolerations = get_config("scheduling.userPods.tolerations", []) + get_config("singleuser.extraTolerations", [])
if tolerations:
    c.KubeSpawner.tolerations = tolerations

# 3.2.1 l.248-292 / 4.4.0 l.255-307: the home volume. storage.dynamic.storageClass unset leaves
# the PVC without storageClassName, so the cluster's default StorageClass applies.
if Z2JH_MAJOR >= 4:
    volumes, volume_mounts = {}, {}
else:
    volumes, volume_mounts = [], []
storage_type = get_config("singleuser.storage.type")
if storage_type == "dynamic":
    pvc_name_template = get_config("singleuser.storage.dynamic.pvcNameTemplate")
    if Z2JH_MAJOR < 4 or pvc_name_template:
        c.KubeSpawner.pvc_name_template = pvc_name_template
    volume_name_template = get_config("singleuser.storage.dynamic.volumeNameTemplate")
    c.KubeSpawner.storage_pvc_ensure = True
    set_config_if_not_none(c.KubeSpawner, "storage_class", "singleuser.storage.dynamic.storageClass")
    set_config_if_not_none(c.KubeSpawner, "storage_access_modes", "singleuser.storage.dynamic.storageAccessModes")
    set_config_if_not_none(c.KubeSpawner, "storage_capacity", "singleuser.storage.capacity")
    volume = {"name": volume_name_template, "persistentVolumeClaim": {"claimName": pvc_name_template}}
    mount = {"mountPath": get_config("singleuser.storage.homeMountPath"), "name": volume_name_template}
    if Z2JH_MAJOR >= 4:
        volume["persistentVolumeClaim"]["claimName"] = "{pvc_name}"
        mount["subPath"] = get_config("singleuser.storage.dynamic.subPath")
        volumes[volume_name_template] = volume
        volume_mounts[volume_name_template] = mount
    else:
        volumes.append(volume)
        volume_mounts.append(mount)
elif storage_type == "static":
    volume = {"name": "home", "persistentVolumeClaim": {"claimName": get_config("singleuser.storage.static.pvcName")}}
    mount = {
        "mountPath": get_config("singleuser.storage.homeMountPath"),
        "name": "home",
        "subPath": get_config("singleuser.storage.static.subPath"),
    }
    if Z2JH_MAJOR >= 4:
        volumes["home"], volume_mounts["home"] = volume, mount
    else:
        volumes.append(volume)
        volume_mounts.append(mount)

# 3.2.1 l.294-328 / 4.4.0 l.309-340: singleuser.extraFiles from the singleuser Secret.
extra_files = get_config("singleuser.extraFiles", {})
if extra_files:
    with open(os.path.join(MOUNTS, "config", "singleuser")) as f:
        singleuser_secret = f.read()
    items = []
    for file_key, file_details in extra_files.items():
        item = {"key": file_key, "path": file_key}
        if "mode" in file_details:
            item["mode"] = file_details["mode"]
        items.append(item)
    volume = {"name": "files", "secret": {"secretName": singleuser_secret, "items": items}}
    file_mounts = [
        {"mountPath": details["mountPath"], "subPath": key, "name": "files"} for key, details in extra_files.items()
    ]
    if Z2JH_MAJOR >= 4:
        volumes["files"] = volume
        for idx, mount in enumerate(file_mounts):
            volume_mounts[f"{idx}-files"] = mount
    else:
        volumes.append(volume)
        volume_mounts.extend(file_mounts)

# 3.2.1 l.330-334 / 4.4.0 l.342-362: extraVolumes / extraVolumeMounts (4.x: lists or maps).
extra_volumes = get_config("singleuser.storage.extraVolumes", default=[] if Z2JH_MAJOR < 4 else {})
extra_volume_mounts = get_config("singleuser.storage.extraVolumeMounts", default=[] if Z2JH_MAJOR < 4 else {})
if Z2JH_MAJOR >= 4:
    if isinstance(extra_volumes, dict):
        volumes.update(extra_volumes)
    elif isinstance(extra_volumes, list):
        for volume in extra_volumes:
            volumes[volume["name"]] = volume
    if isinstance(extra_volume_mounts, dict):
        volume_mounts.update(extra_volume_mounts)
    elif isinstance(extra_volume_mounts, list):
        for idx, mount in enumerate(extra_volume_mounts):
            volume_mounts[f"{idx}-{mount['name']}"] = mount
else:
    volumes.extend(extra_volumes)
    volume_mounts.extend(extra_volume_mounts)
c.KubeSpawner.volumes = volumes
c.KubeSpawner.volume_mounts = volume_mounts

# 3.2.1 l.336-392 / 4.4.0 l.364-420: the idle culler, a hub-managed service with its role.
c.JupyterHub.services = []
c.JupyterHub.load_roles = []
if get_config("cull.enabled", False):
    culler_role = {
        "name": "jupyterhub-idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["jupyterhub-idle-culler"],
    }
    cull_cmd = ["python3", "-m", "jupyterhub_idle_culler"]
    base_url = c.JupyterHub.get("base_url", "/")
    cull_cmd.append("--url=http://localhost:8081" + url_path_join(base_url, "hub/api"))
    for flag, key in (("timeout", "cull.timeout"), ("cull-every", "cull.every"), ("concurrency", "cull.concurrency")):
        if get_config(key):
            cull_cmd.append(f"--{flag}={get_config(key)}")
    if get_config("cull.users"):
        cull_cmd.append("--cull-users")
        culler_role["scopes"].append("admin:users")
    if not get_config("cull.adminUsers"):
        cull_cmd.append("--cull-admin-users=false")
    if get_config("cull.removeNamedServers"):
        cull_cmd.append("--remove-named-servers")
    if get_config("cull.maxAge"):
        cull_cmd.append(f"--max-age={get_config('cull.maxAge')}")
    # LOCAL: registered without its `command` (cull_cmd above): the culler package is not in the
    # test venv and culling is not under test; its service and role are loaded as in the chart.
    c.JupyterHub.services.append({"name": "jupyterhub-idle-culler"})
    c.JupyterHub.load_roles.append(culler_role)

# 3.2.1 l.394-404 / 4.4.0 l.422-432: hub.services (a map in the chart, a list in JupyterHub), each
# service's token from the hub Secret.
for key, service in get_config("hub.services", {}).items():
    service.setdefault("name", key)
    service.pop("apiToken", None)
    service["api_token"] = get_secret_value(f"hub.services.{key}.apiToken")
    c.JupyterHub.services.append(service)

# 3.2.1 l.406-411 / 4.4.0 l.434-439: hub.loadRoles.
for key, role in get_config("hub.loadRoles", {}).items():
    role.setdefault("name", key)
    c.JupyterHub.load_roles.append(role)

# 3.2.1 l.413-420 / 4.4.0 l.441-448: singleuser.cmd (an explicit null too) and defaultUrl.
_unspecified = object()
specified_cmd = get_config("singleuser.cmd", _unspecified)
if specified_cmd is not _unspecified:
    c.Spawner.cmd = specified_cmd
set_config_if_not_none(c.Spawner, "default_url", "singleuser.defaultUrl")

# 3.2.1 l.422-454 / 4.4.0 l.450-482: the init container that blocks the cloud metadata endpoint.
cloud_metadata = get_config("singleuser.cloudMetadata")
if cloud_metadata.get("blockWithIptables") is True:
    ip_block_container = client.V1Container(
        name="block-cloud-metadata",
        image=f"{get_config('singleuser.networkTools.image.name')}:{get_config('singleuser.networkTools.image.tag')}",
        command=["iptables", "--append", "OUTPUT", "--protocol", "tcp", "--destination", cloud_metadata["ip"],
                 "--destination-port", "80", "--jump", "DROP"],
        security_context=client.V1SecurityContext(
            privileged=True, run_as_user=0, capabilities=client.V1Capabilities(add=["NET_ADMIN"])
        ),
        resources=get_config("singleuser.networkTools.resources"),
    )
    c.KubeSpawner.init_containers.append(ip_block_container)

# 3.2.1 l.457-459 / 4.4.0 l.485-487
if get_config("debug.enabled", False):
    c.JupyterHub.log_level = "DEBUG"
    c.Spawner.debug = True

# 3.2.1 l.461-469 / 4.4.0 l.489-497: the generated secrets, from the hub Secret.
c.JupyterHub.cookie_secret = get_secret_value("hub.config.JupyterHub.cookie_secret")
c.CryptKeeper.keys = get_secret_value("hub.config.CryptKeeper.keys").split(";")

# 3.2.1 l.471-481 / 4.4.0 l.499-526: hub.config sections passed through, minus the secrets set
# above; 4.x refuses a section name that is not a class name.
for section, cfg in get_config("hub.config", {}).items():
    if section == "JupyterHub":
        cfg.pop("proxy_auth_token", None)
        cfg.pop("cookie_secret", None)
        cfg.pop("services", None)
    elif section == "ConfigurableHTTPProxy":
        cfg.pop("auth_token", None)
    elif section == "CryptKeeper":
        cfg.pop("keys", None)
    if Z2JH_MAJOR >= 4:
        if not section[:1].isupper():
            print(
                f"FATAL: Invalid hub.config section name: {section}."
                " hub.config sections must be Configurable class names (e.g. JupyterHub)."
                " Maybe misplaced or misspelled config?",
                file=sys.stderr,
            )
            sys.exit(1)
        print(f"Loading pass-through config section hub.config.{section}")
    c[section].update(cfg)

# 3.2.1 l.483-492 / 4.4.0 l.528-537: files of jupyterhub_config.d (hub.extraFiles may put some).
config_dir = os.path.join(MOUNTS, "jupyterhub_config.d")
if os.path.isdir(config_dir):
    for file_path in sorted(glob.glob(f"{config_dir}/*.py")):
        file_name = os.path.basename(file_path)
        print(f"Loading {config_dir} config: {file_name}")
        with open(file_path) as f:
            exec(compile(source=f.read(), filename=file_name, mode="exec"))

# 3.2.1 l.494-497 / 4.4.0 l.539-542: hub.extraConfig, sorted by key, executed in this namespace.
# (Compiled with the values key as its file name, so a traceback names the snippet.)
for key, config_py in sorted(get_config("hub.extraConfig", {}).items()):
    print(f"Loading extra config: {key}")
    exec(compile(config_py, f"jupyterhub.hub.extraConfig.{key}", "exec"))

# --- LOCAL: observation only (nothing below changes what KubeSpawner builds) -------------------

# KubeSpawner's own hook, called with the finished Pod object just before it is created: record it
# as KubeSpawner sends it (JSON), so the test can check it field by field with a strict dry run.
_earlier_hook = c.KubeSpawner.get("modify_pod_hook")


async def _record_pod(spawner, pod):
    if _earlier_hook is not None:
        pod = _earlier_hook(spawner, pod)
        if hasattr(pod, "__await__"):
            pod = await pod
    record = spawner.api.api_client.sanitize_for_serialization(pod)
    path = os.path.join(LOCAL["record_dir"], f"pod-{pod.metadata.name}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    return pod


c.KubeSpawner.modify_pod_hook = _record_pod

# Extra hub settings a test needs (e.g. a service URL on 127.0.0.1), applied last.
for section, cfg in LOCAL.get("config", {}).items():
    c[section].update(cfg)
for name, url in LOCAL.get("service_urls", {}).items():
    for service in c.JupyterHub.services:
        if service["name"] == name:
            service["url"] = url
