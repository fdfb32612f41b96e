"""The values each DaskHub subchart is given, and the hub Secret Z2JH makes of them (issue 12).

The charts cannot be installed where the tests run, so this module does what Helm and the chart
templates do before the hub pod starts, from the chart defaults in ../shared/conformance (see its
README.md for the pinned revisions):

1. Helm coalesces values: the subchart's values.yaml, under DaskHub's values.yaml section for that
   subchart, under the section of the rendered daskhub.yaml (the user's values). Maps merge key by
   key; any other value replaces; a null removes the default (Helm's `coalesceValues`).
2. Z2JH's templates/hub/secret.yaml (3.2.1 and 4.4.0, lines 9-41) writes the hub Secret: the whole
   values under `values.yaml` plus `Chart` (Name, Version; 4.4.0 adds AppVersion) and `Release`
   (Name, Namespace, Service), one `hub.services.<key>.apiToken` per service, and the three
   generated secrets (proxy token, cookie secret, CryptKeeper keys).

What the hub does with that Secret is tests/python/hub_config.py's part.
"""

from __future__ import annotations

import copy
import os
import pathlib
import secrets

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]

# Chart target -> where its charts' defaults are in the conformance data (README.md there).
CHART_FILES = {
    "daskhub-2024.1.1": {
        "daskhub": "daskhub/2024.1.1/values.yaml",
        "jupyterhub": "z2jh/3.2.1/values.yaml",
        "jupyterhub_chart": "z2jh/3.2.1/Chart.yaml",
        "dask-gateway": "dask-gateway/2024.1.0/values.yaml",
        "dask-gateway_chart": "dask-gateway/2024.1.0/Chart.yaml",
    },
    "daskhub-2026.3.0": {
        "daskhub": "daskhub/values.yaml",
        "jupyterhub": "z2jh/values.yaml",
        "jupyterhub_chart": "z2jh/Chart.yaml",
        "dask-gateway": "dask-gateway/values.yaml",
        "dask-gateway_chart": "dask-gateway/Chart.yaml",
    },
}


# The Z2JH release each target installs (its Chart.Version in the hub Secret).
Z2JH_VERSION = {"daskhub-2024.1.1": "3.2.1", "daskhub-2026.3.0": "4.4.0"}


def conformance_dir() -> pathlib.Path:
    """PANGEO_CONFORMANCE_DIR, else ../shared/conformance beside the repository (as the Rust
    conformance tests look for it)."""
    env = os.environ.get("PANGEO_CONFORMANCE_DIR")
    path = pathlib.Path(env) if env else REPO.parent / "shared" / "conformance"
    if not (path / "README.md").is_file():
        raise RuntimeError(
            f"upstream chart defaults not found at {path}: set PANGEO_CONFORMANCE_DIR to the "
            "shared/conformance directory"
        )
    return path


def load_chart_file(target: str, what: str) -> dict:
    try:
        rel = CHART_FILES[target][what]
    except KeyError:
        raise RuntimeError(f"no {what} defaults known for chart target {target!r}") from None
    with open(conformance_dir() / rel) as f:
        return yaml.safe_load(f) or {}


def coalesce(defaults: dict, values: dict) -> dict:
    """Helm's coalescing of `values` over `defaults`: maps merge recursively, other values replace,
    and a null removes the key (how a user deletes a chart default)."""
    out = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def subchart_values(rendered_values: dict, target: str, subchart: str) -> dict:
    """What Helm hands to `subchart` ("jupyterhub" or "dask-gateway") when DaskHub of `target` is
    installed with the rendered daskhub.yaml."""
    daskhub = load_chart_file(target, "daskhub").get(subchart) or {}
    user = rendered_values.get(subchart) or {}
    return coalesce(coalesce(load_chart_file(target, subchart), daskhub), user)


def hub_secret(rendered_values: dict, target: str, release: str, namespace: str) -> dict[str, str]:
    """The hub Secret's keys and values, as Z2JH's templates/hub/secret.yaml writes them.

    The generated values stand in for Z2JH's `randHex`/lookup: a fresh install generates them
    (research/charts.md: "Z2JH generates JupyterHub.cookie_secret and CryptKeeper.keys itself").
    """
    values = subchart_values(rendered_values, target, "jupyterhub")
    chart = load_chart_file(target, "jupyterhub_chart")
    # The stored Chart.yaml says "0.0.1-set.by.chartpress" (set at release time): use the tag's.
    chart_info = {"Name": chart["name"], "Version": Z2JH_VERSION[target]}
    if target != "daskhub-2024.1.1":  # secret.yaml line 11: 4.x passes AppVersion too
        chart_info["AppVersion"] = chart["appVersion"]
    data = dict(values)
    data["Chart"] = chart_info
    data["Release"] = {"Name": release, "Namespace": namespace, "Service": "Helm"}
    out = {"values.yaml": yaml.safe_dump(data, sort_keys=True)}
    # secret.yaml lines 24-26: jupyterhub.hub.services.get_api_token = the service's apiToken if
    # set, else a generated one.
    for key, service in (values.get("hub", {}).get("services") or {}).items():
        token = (service or {}).get("apiToken") or secrets.token_hex(32)
        out[f"hub.services.{key}.apiToken"] = token
    # secret.yaml lines 39-41: the chart's value if set, else generated.
    config = values.get("hub", {}).get("config") or {}
    out["hub.config.ConfigurableHTTPProxy.auth_token"] = (
        config.get("ConfigurableHTTPProxy", {}).get("auth_token") or secrets.token_hex(32)
    )
    out["hub.config.JupyterHub.cookie_secret"] = (
        config.get("JupyterHub", {}).get("cookie_secret") or secrets.token_hex(32)
    )
    keys = config.get("CryptKeeper", {}).get("keys")
    out["hub.config.CryptKeeper.keys"] = ";".join(keys) if keys else secrets.token_hex(32)
    return out


def write_secret_mount(directory: pathlib.Path, data: dict[str, str]) -> None:
    """A Secret volume: one file per key (mode 0600 as secrets are)."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in data.items():
        fd = os.open(directory / key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)


def write_hub_mounts(root: pathlib.Path, secret: dict[str, str], names: dict[str, str]) -> None:
    """Lays out `root` as the hub pod's /usr/local/etc/jupyterhub: `secret/` holds the hub Secret
    (one file per key, mode 0600 as secrets are), `config/` the ConfigMap's resource names."""
    for sub, data, mode in (("secret", secret, 0o600), ("config", names, 0o644)):
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        for key, value in data.items():
            path = d / key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w") as f:
                f.write(value)
