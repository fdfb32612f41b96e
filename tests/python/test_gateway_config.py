"""The journey's gateway configuration on its own (issue 12): the rendered values, coalesced over the
chart defaults as Helm does, through gateway_config.py (the dask-gateway chart's configuration
files, mirrored), loaded by the real DaskGateway and KubeController apps of the target's version.
No cluster: the apps are initialised, not started, and their settings read back."""

from __future__ import annotations

import pytest

import gateway_config

HUB_ENV = {"HUB_SERVICE_HOST": "10.0.0.7", "HUB_SERVICE_PORT": "8081", "JUPYTERHUB_API_TOKEN": "not-used-here"}


@pytest.fixture(scope="module")
def release(rendered):
    return gateway_config.Release(rendered.config.get("releases", {}).get("daskhub", {}).get("name", "daskhub"),
                                  "journey-ns")


@pytest.fixture(scope="module")
def gateway_app(rendered, release, tmp_path_factory):
    from dask_gateway_server.app import DaskGateway

    path = gateway_config.write(tmp_path_factory.mktemp("gwconfig") / "dask_gateway_config.py",
                                gateway_config.gateway_config(rendered.values, rendered.chart, release, 18000))
    mp = pytest.MonkeyPatch()
    for key, value in HUB_ENV.items():
        mp.setenv(key, value)
    mp.delenv("JUPYTERHUB_API_URL", raising=False)
    mp.delenv("JUPYTERHUB_SERVICE_NAME", raising=False)
    try:
        app = DaskGateway()
        app.initialize([f"--config={path}"])
        yield app
    finally:
        mp.undo()
        DaskGateway.clear_instance()


def test_the_gateway_authenticates_through_the_hub(rendered, gateway_app):
    auth = gateway_app.authenticator
    assert type(auth).__name__ == "JupyterHubAuthenticator", f"{rendered.name}: {type(auth).__name__}"
    # The chart infers the hub's API from the `hub` Service's variables (apiUrl is not set).
    assert auth.jupyterhub_api_url == "http://10.0.0.7:8081/hub/api"
    if rendered.chart == "daskhub-2026.3.0":
        assert auth.jupyterhub_service_name == "dask-gateway", f"{rendered.name}: jupyterhub_service_name"
        assert auth.use_service_access_scopes is True
    else:
        assert not hasattr(auth, "jupyterhub_service_name"), "2024.1.0 has no scope check"


def test_the_backend_and_the_cluster_config(rendered, release, gateway_app):
    import asyncio

    from dask_gateway_server.models import User

    backend = gateway_app.backend
    assert type(backend).__name__ == "KubeBackend"
    assert backend.gateway_instance == release.fullname
    assert backend.api_url == f"http://api-{release.fullname}.journey-ns:8000/api"
    loop = asyncio.new_event_loop()
    try:
        _, config = loop.run_until_complete(backend.process_cluster_options(User("someone"), {}))
    finally:
        loop.close()
    for part in ("scheduler", "worker"):
        # Absent (daskGateway.schedulerOnDaskWorkers: false), the chart's default {} applies.
        want = rendered.get(f"dask-gateway.gateway.backend.{part}.extraPodConfig", {})
        assert getattr(config, f"{part}_extra_pod_config") == want, f"{rendered.name}: {part}_extra_pod_config"
    assert config.namespace == "journey-ns"


def test_the_controller(rendered, release, tmp_path):
    from dask_gateway_server.backends.kubernetes.controller import KubeController

    path = gateway_config.write(tmp_path / "controller.py",
                                gateway_config.controller_config(rendered.values, rendered.chart, release, 18001))
    try:
        ctl = KubeController()
        ctl.initialize([f"--config={path}"])
        assert ctl.gateway_instance == release.fullname
        assert ctl.api_url == release.api_url
        # DaskHub's prefix: users reach the gateway through the hub's /services/dask-gateway.
        assert ctl.proxy_prefix == "/services/dask-gateway"
        assert ctl.proxy_tcp_entrypoint == "web"
    finally:
        KubeController.clear_instance()


def test_release_names_follow_the_chart_helpers():
    assert gateway_config.Release("daskhub", "x").fullname == "daskhub-dask-gateway"
    assert gateway_config.Release("my-dask-gateway", "x").fullname == "my-dask-gateway"
    assert len(gateway_config.Release("a" * 70, "x").api_name) == 63
