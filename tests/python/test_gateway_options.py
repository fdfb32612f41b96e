"""The rendered Dask Gateway cluster-options handler in the real dask-gateway-server (issue 6, point 4).

The real `DaskGateway` app loads a config file built like the chart's dask_gateway_config.py (the
extraConfig snippets pasted into it), constructs its real KubeBackend, and each request goes through
`Backend.process_cluster_options`: `Options.parse_options` (defaults, bounds), the handler, and the
real `KubeClusterConfig` built from what the handler returns.

A config may keep its own handler (daskGateway.optionHandler, issue 15: `import` keeps a hand-built
hub's). Then the rendered value must be that file's text byte for byte, and the options the gateway
really reports and applies (defaults, bounds, image) must be the config's daskGateway.worker and
image: the capacity and image rules read those, and a handler that says otherwise would fool them.
Only the image-tag check is pangeo-render's own promise, tested for the generated handler alone.
"""

import asyncio

import pytest

import harness

GIB = 2**30


class Gateway:
    def __init__(self, r, workdir):
        from dask_gateway_server.app import DaskGateway

        self.r = r
        self.config_file = harness.write_gateway_config(r, workdir)
        self.app = DaskGateway()
        self.app.initialize([f"--config={self.config_file}"])
        self.loop = asyncio.new_event_loop()

    def request(self, options):
        """(requested options, KubeClusterConfig) or raises PublicException like the API would."""
        from dask_gateway_server.models import User

        user = User("alice", groups=(), admin=False)
        return self.loop.run_until_complete(self.app.backend.process_cluster_options(user, options))

    def refused(self, options):
        from dask_gateway_server.backends.base import PublicException

        with pytest.raises(PublicException) as info:
            self.request(options)
        return str(info.value)

    def close(self):
        self.loop.close()


@pytest.fixture(scope="module")
def gateway(rendered, tmp_path_factory):
    try:
        g = Gateway(rendered, tmp_path_factory.mktemp(f"gateway-{rendered.name}"))
    except Exception as e:
        pytest.fail(f"{rendered.where(harness.OPTIONS_SNIPPET_KEY)}: dask-gateway failed to load it: {e!r}")
    yield g
    g.close()


def bounds(rendered, key):
    b = rendered.config["daskGateway"]["worker"][key]
    return float(b["default"]), float(b["min"]), float(b["max"])


def test_snippet_is_generated_or_kept_verbatim(rendered):
    snippet = rendered.get(harness.OPTIONS_SNIPPET_KEY)
    where = rendered.where(harness.OPTIONS_SNIPPET_KEY)
    kept = rendered.kept_handler
    if kept is not None:
        # What Helm hands the chart (YAML read back) is the file, byte for byte.
        assert snippet == kept, f"{where}: differs from the kept handler file {rendered.config['daskGateway']['optionHandler']['file']}"
        assert "pangeo-render" not in snippet.splitlines()[0], f"{where}: the kept handler was replaced"
    else:
        assert snippet.startswith("#") and "pangeo-render" in snippet.splitlines()[0], where


def test_options_specification(rendered, gateway):
    where = rendered.where(harness.OPTIONS_SNIPPET_KEY)
    from dask_gateway_server.options import Options

    options = gateway.app.backend.cluster_options
    assert isinstance(options, Options), f"{where}: Backend.cluster_options is {type(options).__name__}"
    spec = {f["field"]: f for f in options.get_specification()}
    assert sorted(spec) == ["image", "worker_cores", "worker_memory"], f"{where}: fields {sorted(spec)}"
    for field, key in (("worker_cores", "cores"), ("worker_memory", "memoryGiB")):
        default, lo, hi = bounds(rendered, key)
        s = spec[field]
        assert s["spec"]["type"] == "float", f"{where}: {field} is not a Float"
        assert (s["default"], s["spec"]["min"], s["spec"]["max"]) == (default, lo, hi), (
            f"{where}: {field} default/min/max {(s['default'], s['spec']['min'], s['spec']['max'])} "
            f"!= daskGateway.worker.{key} {(default, lo, hi)}"
        )
    assert spec["image"]["default"] == rendered.gateway_image, f"{where}: default image"


def test_defaults(rendered, gateway):
    where = rendered.where(harness.OPTIONS_SNIPPET_KEY)
    requested, cfg = gateway.request({})
    cores, _, _ = bounds(rendered, "cores")
    mem, _, _ = bounds(rendered, "memoryGiB")
    assert requested == {"worker_cores": cores, "worker_memory": mem, "image": rendered.gateway_image}, where
    assert type(cfg).__name__ == "KubeClusterConfig"
    assert cfg.worker_cores == cores, f"{where}: worker_cores {cfg.worker_cores} != {cores}"
    assert cfg.worker_memory == int(mem * GIB), f"{where}: worker_memory {cfg.worker_memory} != {int(mem * GIB)} bytes"
    assert isinstance(cfg.worker_memory, int)
    assert cfg.image == rendered.gateway_image, f"{where}: image {cfg.image!r}"


def test_cluster_max_workers(rendered, gateway):
    _, cfg = gateway.request({})
    want = rendered.config["daskGateway"]["maxWorkersPerCluster"]
    assert cfg.cluster_max_workers == want, (
        f"{rendered.where(harness.OPTIONS_SNIPPET_KEY)}: ClusterConfig.cluster_max_workers "
        f"{cfg.cluster_max_workers} != daskGateway.maxWorkersPerCluster {want}"
    )


@pytest.mark.parametrize("field,key", [("worker_cores", "cores"), ("worker_memory", "memoryGiB")])
def test_bounds(rendered, gateway, field, key):
    where = rendered.where(harness.OPTIONS_SNIPPET_KEY)
    _, lo, hi = bounds(rendered, key)
    for value in (lo, hi, (lo + hi) / 2):
        requested, cfg = gateway.request({field: value})
        assert requested[field] == value, f"{where}: {field}={value} became {requested[field]}"
        got = cfg.worker_cores if field == "worker_cores" else cfg.worker_memory
        assert got == (value if field == "worker_cores" else int(value * GIB)), f"{where}: {field}={value} gave {got}"
    # Integers are accepted as floats (a user typing 2 rather than 2.0).
    if float(hi).is_integer():
        requested, _ = gateway.request({field: int(hi)})
        assert requested[field] == hi
    for value in (lo - 0.01, hi + 0.01, hi * 10):
        message = gateway.refused({field: value})
        assert field in message, f"{where}: {field}={value} refused without naming the field: {message!r}"
    message = gateway.refused({field: "2"})
    assert field in message, f"{where}: {field}='2' (a string) was not refused by name: {message!r}"


@pytest.mark.parametrize(
    "image",
    [
        "pangeo/pangeo-notebook:2024.01.15",
        "docker.io/pangeo/base-notebook:2023.10.28",
        "registry.example.org:5000/team/worker:v1",
        "localhost:5000/worker:latest",
        "ghcr.io/org/img@sha256:" + "a" * 64,
    ],
)
def test_image_with_tag_is_accepted(rendered, gateway, image):
    requested, cfg = gateway.request({"image": image})
    assert requested["image"] == image and cfg.image == image, rendered.where(harness.OPTIONS_SNIPPET_KEY)


@pytest.mark.parametrize(
    "image",
    [
        "pangeo/pangeo-notebook",
        "registry.example.org:5000/team/worker",
        "localhost:5000/worker",
        "worker:",
        ":tag",
        "",
        "pangeo/pangeo-notebook:2024 .01",
    ],
)
def test_image_without_tag_is_refused(rendered, gateway, image):
    if rendered.kept_handler is not None:
        pytest.skip("a kept handler (daskGateway.optionHandler) checks the image its own way; "
                    "the tag check that names a bad image is the generated handler's")
    message = gateway.refused({"image": image})
    assert "tag" in message, (
        f"{rendered.where(harness.OPTIONS_SNIPPET_KEY)}: image {image!r} refused with an unclear message: {message!r}"
    )


def test_unknown_option_is_refused(rendered, gateway):
    message = gateway.refused({"worker_gpus": 1})
    assert "worker_gpus" in message, rendered.where(harness.OPTIONS_SNIPPET_KEY)
