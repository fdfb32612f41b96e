"""The journey's hub loader on its own (issue 12): the rendered values, coalesced over the chart
defaults as Helm does, through hub_config.py (Z2JH's jupyterhub_config.py, mirrored), become the
JupyterHub and KubeSpawner settings the chart gives them. No cluster: the config file is loaded by
traitlets, as JupyterHub loads it, and the resulting settings are read back."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

import chart_values
import journey


def test_coalesce_is_helms():
    defaults = {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": "x"}
    assert chart_values.coalesce(defaults, {"a": {"b": 3}, "d": [9], "e": None}) == {"a": {"b": 3, "c": 2}, "d": [9]}
    assert defaults == {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": "x"}, "the defaults were modified"


@pytest.fixture(scope="module")
def loaded(rendered, tmp_path_factory):
    """(hub, config): the hub's mounts and env as journey.Hub prepares them, and the config object
    hub_config.py makes of them."""
    trip = journey.Journey(rendered)
    workdir = tmp_path_factory.mktemp(f"hubconfig-{rendered.name}")
    hub = journey.Hub(trip, workdir, None, "journey-ns", kubeconfig=pathlib.Path("/nonexistent"))
    mp = pytest.MonkeyPatch()
    for key in ("PANGEO_HUB_MOUNTS", "PANGEO_HUB_LOCAL", "POD_NAMESPACE", "HELM_RELEASE_NAME"):
        mp.setenv(key, hub.env[key])
    try:
        config = PyFileConfigLoader("hub_config.py", path=str(journey.HERE)).load_config()
    finally:
        mp.undo()
    return hub, config


def test_the_secret_holds_the_values_over_the_chart_defaults(rendered, loaded):
    hub, _ = loaded
    values = yaml.safe_load(hub.secret["values.yaml"])
    # Ours, DaskHub's and Z2JH's, side by side.
    extra = values["hub"]["extraConfig"]
    assert "pangeoAuthenticator" in extra and "00-add-dask-gateway-values" in extra, sorted(extra)
    image = values["singleuser"]["image"]
    assert image == {**image, **rendered.get("jupyterhub.singleuser.image")}
    assert "pullPolicy" in image  # Z2JH's default beside ours
    assert values["singleuser"]["defaultUrl"] == "/lab"  # DaskHub's
    assert values["cull"]["enabled"] is True  # Z2JH's
    assert values["Chart"]["Version"] == chart_values.Z2JH_VERSION[rendered.chart]
    assert values["Release"]["Name"] == hub.release
    token = rendered.get("jupyterhub.hub.services.dask-gateway.apiToken")
    assert hub.secret["hub.services.dask-gateway.apiToken"] == token


def test_singleuser_values_become_kubespawner_settings(rendered, loaded):
    _, c = loaded
    ks = c.KubeSpawner
    su = rendered.get("jupyterhub.singleuser")
    assert ks.image == f"{su['image']['name']}:{su['image']['tag']}"
    assert (ks.cpu_guarantee, ks.cpu_limit) == (su["cpu"]["guarantee"], su["cpu"]["limit"])
    assert (ks.mem_guarantee, ks.mem_limit) == (su["memory"]["guarantee"], su["memory"]["limit"])
    for name, value in su["extraEnv"].items():
        assert ks.environment[name] == value, name
    # DaskHub's extraConfig adds the gateway's address for the client in the notebook.
    assert ks.environment["DASK_GATEWAY__AUTH__TYPE"] == "jupyterhub"
    assert ks.namespace == "journey-ns"
    # Z2JH's defaults: the user-pod tolerations only, a dynamic home PVC of 10Gi.
    assert {t["key"] for t in ks.tolerations} == {"hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated"}
    assert ks.storage_pvc_ensure is True and ks.storage_capacity == "10Gi"
    want_class = (su.get("storage", {}).get("dynamic") or {}).get("storageClass")
    assert ks.get("storage_class") == want_class
    assert c.Spawner.default_url == "/lab"


def test_hub_values_become_jupyterhub_settings(rendered, loaded):
    hub, c = loaded
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.JupyterHub.authenticator_class.__name__ == "PangeoPasswordAuthenticator"
    assert sorted(c.Authenticator.admin_users) == sorted(rendered.admins)
    services = {s["name"]: s for s in c.JupyterHub.services}
    gateway = services["dask-gateway"]
    assert gateway["api_token"] == rendered.get("jupyterhub.hub.services.dask-gateway.apiToken")
    assert "apiToken" not in gateway
    # DaskHub's extraConfig points the service at the gateway's Traefik Service.
    assert gateway["url"].startswith(f"http://traefik-{hub.release}-dask-gateway.")
    assert len(c.CryptKeeper["keys"]) == 1 and c.JupyterHub.cookie_secret
