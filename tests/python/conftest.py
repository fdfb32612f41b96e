"""pytest wiring: one test per rendered fixture, skipped when the fixture targets the other chart; the
journey tests' test control plane (`cluster`) and failure labels (`trip`)."""

import pytest

import harness
import journey


def pytest_configure(config):
    # Third-party deprecation noise from the pinned servers, not from the code under test.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pythonjsonlogger.*")
    config.addinivalue_line("filterwarnings", "ignore:The `version` property of an event schema:Warning")
    # aiohttp's advice to dask-gateway-server 2024.1.0 (2026.3.0 silences it itself).
    config.addinivalue_line("filterwarnings", "ignore:It is recommended to use web.AppKey instances:Warning")
    try:
        harness.rendered_root()
        harness.current_target()
    except RuntimeError as e:
        raise pytest.UsageError(str(e))


def pytest_report_header(config):
    target = harness.current_target()
    versions = harness.TARGETS[target]
    return f"pangeo-render target {target}: jupyterhub {versions['jupyterhub']}, dask-gateway-server {versions['dask_gateway_server']}"


def pytest_generate_tests(metafunc):
    if "rendered" in metafunc.fixturenames:
        items = harness.discover()
        metafunc.parametrize("rendered", items, ids=[r.name for r in items], indirect=True, scope="module")


@pytest.fixture(scope="module")
def rendered(request):
    r = request.param
    target = harness.current_target()
    if r.chart != target:
        pytest.skip(f"{r.name} targets hub.chart {r.chart or '(none)'}; this venv tests {target}")
    # Values that hold no secret (secrets.inCluster) work only with the Secret `apply` creates on
    # a cluster: the journey tests run the hub and gateway with it; the offline proofs cannot.
    if r.existing_secret and not request.module.__name__.startswith("test_journey"):
        pytest.skip(f"{r.name}: the secrets are in Secret {r.existing_secret} (secrets.inCluster), "
                    "which only the journey tests have (they apply it to the test control plane)")
    return r


@pytest.fixture(scope="session")
def cluster():
    return journey.control_plane()


@pytest.fixture(scope="module")
def trip(rendered):
    return journey.Journey(rendered)
