"""The singleuser values in daskhub.yaml, as JupyterHub and KubeSpawner read them at a spawn (issue 12).

Memory as the config means it is what the notebook pod gets.

The config takes Kubernetes quantities (`Gi` = 2**30, `G` = 10**9, plain numbers are bytes).
JupyterHub reads `singleuser.memory` from daskhub.yaml with its own `ByteSpecification`
(K, M, G, T are powers of 1024; `8Gi` is refused at every spawn), and KubeSpawner writes the
resulting byte count into the pod. For each size below, the real binary renders the walkthrough
fixture, and the rendered value goes through the real `Spawner.mem_limit` trait and KubeSpawner's
own `make_pod`: the pod must ask for exactly the bytes the user meant.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
from decimal import Decimal

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]

# Kubernetes quantity suffixes (k8s.io/apimachinery resource.Quantity), written out independently
# of the Rust code under test.
K8S = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
       "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

SIZES = ["8Gi", "16Gi", "1.5Gi", "512Mi", "8G", "750M", "1.5G", "17179869184", 4294967296]


def k8s_bytes(q) -> int:
    if isinstance(q, int):
        return q
    number = q.rstrip("kMGTi")
    return int(Decimal(number) * K8S[q[len(number):]])


def binary() -> str:
    path = os.environ.get("PANGEO_RENDER_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("PANGEO_RENDER_BIN must name the pangeo-render binary (scripts/test-python sets it)")
    return path


def render(tmp: pathlib.Path, limit, guarantee) -> dict:
    work = tmp / "config"
    shutil.copytree(REPO / "fixtures" / "walkthrough", work)
    for stale in work.glob("*.secrets.yaml"):
        stale.unlink()
    config = yaml.safe_load((work / "pangeo.yaml").read_text())
    config["hub"]["singleuser"]["memory"] = {"guarantee": guarantee, "limit": limit}
    (work / "pangeo.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp / "rendered"
    run = subprocess.run(
        [binary(), "values", "-c", str(work / "pangeo.yaml"), "--output-dir", str(out), "--admin-password-stdin"],
        input="memory units test password\n", capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, f"values failed for limit {limit!r}: {run.stderr}"
    return yaml.safe_load((out / "daskhub.yaml").read_text())["jupyterhub"]["singleuser"]["memory"]


@pytest.mark.parametrize("size", SIZES, ids=[str(s) for s in SIZES])
def test_the_pod_gets_the_bytes_the_config_means(tmp_path, size):
    from jupyterhub.spawner import Spawner
    from kubespawner.objects import make_pod

    want = k8s_bytes(size)
    rendered = render(tmp_path, limit=size, guarantee="256Mi")
    # JupyterHub's own trait, as Z2JH sets c.KubeSpawner.mem_limit from singleuser.memory.limit.
    trait = Spawner.class_traits()["mem_limit"]
    hub_bytes = trait.validate(None, rendered["limit"])
    assert hub_bytes == want, f"{size!r} rendered as {rendered['limit']!r}: JupyterHub reads {hub_bytes} bytes, the config means {want}"
    guarantee = trait.validate(None, rendered["guarantee"])
    assert guarantee == 2**28
    # KubeSpawner's pod builder puts JupyterHub's integer into the container's resources.
    pod = make_pod(name="jupyter-test", cmd=["jupyterhub-singleuser"], port=8888,
                   image="pangeo/base-notebook:2023.10.28", mem_limit=hub_bytes, mem_guarantee=guarantee)
    resources = pod.spec.containers[0].resources
    assert int(resources.limits["memory"]) == want
    assert int(resources.requests["memory"]) == 2**28


# KubeSpawner loads (and caches, process-wide) its cluster configuration when constructed, so it
# runs in a child process with a kubeconfig of its own: nothing here leaks into other tests.
_ENV_SCRIPT = """
import asyncio, json, sys
from kubespawner import KubeSpawner

async def main():  # KubeSpawner builds its API client on the running loop
    spawner = KubeSpawner(_mock=True, environment=json.loads(sys.argv[1]))
    try:
        print(json.dumps({"env": spawner.get_env()}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))

asyncio.run(main())
"""


def kubespawner_env(environment: dict, tmp_path: pathlib.Path) -> dict:
    """What a real KubeSpawner (with KubeSpawner's own test user, `_mock`) makes of `environment`:
    {"env": {...}} or {"error": type, "message": text}. It reads a kubeconfig at construction but
    makes no request, so a syntactically valid one is enough."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "not-used"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
    env["KUBECONFIG"] = str(kubeconfig)
    run = subprocess.run([sys.executable, "-c", _ENV_SCRIPT, json.dumps(environment)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, f"KubeSpawner could not be constructed: {run.stderr}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_rendered_extra_env_reaches_the_pod_with_literal_braces(rendered, tmp_path):
    """Z2JH hands singleuser.extraEnv to c.KubeSpawner.environment; KubeSpawner formats each value
    with str.format before the pod is built. The dask-gateway client must find the literal template."""
    values = yaml.safe_load((rendered.dir / "daskhub.yaml").read_text())
    env = values["jupyterhub"]["singleuser"]["extraEnv"]
    got = kubespawner_env(env, tmp_path)
    assert "env" in got, f"{rendered.name}: KubeSpawner refused the rendered extraEnv: {got}"
    value = got["env"]["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"]
    assert value == "{JUPYTER_IMAGE_SPEC}", f"{rendered.name}: KubeSpawner turned the rendered value into {value!r}"


def test_pr027_fixture_is_refused_by_the_real_consumers(tmp_path):
    """validate's PR027 fixture holds values the API server and Helm accept: each must really stop a spawn."""
    from jupyterhub.spawner import Spawner
    from traitlets import TraitError

    values = yaml.safe_load((REPO / "fixtures/rules/PR027-spawn-values/daskhub.yaml").read_text())
    su = values["jupyterhub"]["singleuser"]
    with pytest.raises(TraitError):
        Spawner.class_traits()["mem_limit"].validate(None, su["memory"]["limit"])
    got = kubespawner_env({"X": su["extraEnv"]["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"]}, tmp_path)
    assert (got.get("error"), got.get("message")) == ("KeyError", "'JUPYTER_IMAGE_SPEC'"), got
    got = kubespawner_env({"X": su["extraEnv"]["ODD"]}, tmp_path)
    assert got.get("error") == "ValueError" and "Single '}'" in got["message"], got
    # The one value PR027 accepts there is accepted by KubeSpawner too.
    got = kubespawner_env({"X": su["extraEnv"]["HOME_COPY"]}, tmp_path)
    assert got["env"]["X"].startswith("/home/"), got


def test_jupyterhub_refuses_kubernetes_units_as_the_issue_reported():
    """The defect this guards against: the value as users write it for Kubernetes."""
    from jupyterhub.spawner import Spawner
    from traitlets import TraitError

    with pytest.raises(TraitError, match="not a valid memory specification"):
        Spawner.class_traits()["mem_limit"].validate(None, "16Gi")
