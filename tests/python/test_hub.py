"""The rendered hub configuration in the real JupyterHub (issue 6, points 2, 3 and 5).

In-process: the real `JupyterHub` app is initialised from a config file that loads hub.config and
hub.extraConfig the way Z2JH does, and the real `Authenticator.get_authenticated_user` is called.
Out of process: a real `jupyterhub` process (with configurable-http-proxy from npm) on 127.0.0.1,
logged in to over HTTP.
"""

import asyncio
import base64
import hashlib
import os
import re
import urllib.parse

import pytest

import harness

START_TIMEOUT = 60  # seconds for a hub to answer /hub/login

INTRUDER = "pangeo-render-not-allowed"


def phc(password: str, salt: bytes, iterations: int, digest: bytes | None = None) -> str:
    """A hash in the format pangeo-render writes (for malformed variants)."""
    if digest is None:
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    enc = lambda b: base64.b64encode(b).decode().rstrip("=")  # noqa: E731
    return f"$pbkdf2-sha256$i={iterations},l=32${enc(salt)}${enc(digest)}"


# Malformed stored hashes; each must stop the hub at start with a message naming the config key.
MALFORMED = {
    "empty": "",
    "plain-text": "not a hash",
    "too-few-iterations": phc("pw", b"\x01" * 16, 1000),
    "599999-iterations": phc("pw", b"\x01" * 16, 599_999, b"\x02" * 32),
    "sha1": phc("pw", b"\x01" * 16, 600_000, b"\x02" * 32).replace("pbkdf2-sha256", "pbkdf2-sha1"),
    "short-salt": phc("pw", b"\x01" * 15, 600_000, b"\x02" * 32),
    "short-hash": phc("pw", b"\x01" * 16, 600_000, b"\x02" * 31),
    "padded-base64": phc("pw", b"\x01" * 16, 600_000, b"\x02" * 32) + "=",
    "bad-base64": phc("pw", b"\x01" * 16, 600_000, b"\x02" * 32)[:-1] + "!",
    "wrong-length-param": phc("pw", b"\x01" * 16, 600_000, b"\x02" * 32).replace("l=32", "l=64"),
}


# -- in-process ---------------------------------------------------------------------------------


class InProcessHub:
    """A real JupyterHub app, initialised (database, users, roles, authenticator) but not started."""

    def __init__(self, r, workdir, password_hash=harness._MISSING, extra_config=None):
        from jupyterhub.app import JupyterHub

        self.r = r
        self.loop = asyncio.new_event_loop()
        self.local = harness.write_hub_config(r, workdir, password_hash=password_hash, extra_config=extra_config)
        self.app = JupyterHub()
        self.app.log.propagate = False

    def initialize(self):
        self.loop.run_until_complete(self.app.initialize([f"--config={self.local['config_file']}"]))

    def login(self, username, password):
        data = {"username": username, "password": password}
        return self.loop.run_until_complete(self.app.authenticator.get_authenticated_user(None, data))

    def close(self):
        db = getattr(self.app, "db", None)
        if db is not None:
            db.close()
        self.loop.close()


@pytest.fixture(scope="module")
def hub(rendered, tmp_path_factory):
    h = InProcessHub(rendered, tmp_path_factory.mktemp(f"hub-{rendered.name}"))
    try:
        h.initialize()
    except Exception as e:
        h.close()
        pytest.fail(f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: JupyterHub failed to initialise: {e!r}")
    yield h
    h.close()


def test_environment_matches_target(rendered):
    import dask_gateway_server
    import jupyterhub

    want = harness.TARGETS[rendered.chart]
    assert jupyterhub.__version__ == want["jupyterhub"]
    assert dask_gateway_server.__version__ == want["dask_gateway_server"]


def test_every_chart_target_is_covered():
    target = harness.current_target()
    names = [r.name for r in harness.discover() if r.chart == target]
    assert names, f"no rendered fixture in {harness.rendered_root()} targets {target}"


def test_snippet_is_the_file_verbatim(rendered):
    source = harness.REPO / "charts" / "daskhub" / "authenticator.py"
    snippet = rendered.get(harness.AUTH_SNIPPET_KEY)
    assert snippet.rstrip() == source.read_text().rstrip(), (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)} differs from charts/daskhub/authenticator.py"
    )


def test_rendered_keys_agree_with_config(rendered):
    where = rendered.where
    snippet = rendered.get(harness.AUTH_SNIPPET_KEY)
    assert isinstance(snippet, str) and "class PangeoPasswordAuthenticator" in snippet, where(harness.AUTH_SNIPPET_KEY)
    assert snippet.startswith("#") and "pangeo-render" in snippet.splitlines()[0], (
        f"{where(harness.AUTH_SNIPPET_KEY)}: the first line should say pangeo-render generated it"
    )
    assert sorted(rendered.get(harness.ADMINS_KEY)) == sorted(rendered.admins), where(harness.ADMINS_KEY)
    want_allowed = sorted(set(rendered.admins) | set(rendered.allowed))
    assert sorted(rendered.get(harness.ALLOWED_KEY)) == want_allowed, (
        f"{where(harness.ALLOWED_KEY)}: expected admins + hub.allowedUsers {want_allowed}"
    )
    stored = rendered.get(harness.HASH_KEY)
    assert isinstance(stored, str) and stored.startswith("$pbkdf2-sha256$i="), where(harness.HASH_KEY)
    assert rendered.password and rendered.password not in rendered.daskhub.read_text(), (
        f"{where(harness.HASH_KEY)}: the plain password must not be in daskhub.yaml"
    )


def test_snippet_replaces_the_chart_default_authenticator(rendered, hub):
    cls = type(hub.app.authenticator)
    assert cls.__name__ == "PangeoPasswordAuthenticator", (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: JupyterHub uses {cls.__name__}, not PangeoPasswordAuthenticator"
    )


def test_admin_with_right_password_is_admitted_as_admin(rendered, hub):
    for admin in rendered.admins:
        user = hub.login(admin, rendered.password)
        assert user is not None, f"{rendered.where(harness.HASH_KEY)}: admin {admin!r} refused with the right password"
        assert user["name"] == admin and user["admin"] is True, (
            f"{rendered.where(harness.ADMINS_KEY)}: {admin!r} admitted but not as admin: {user!r}"
        )


def test_admin_name_is_normalised(rendered, hub):
    admin = rendered.admins[0]
    user = hub.login(admin.upper(), rendered.password)
    assert user is not None and user["name"] == admin.lower() and user["admin"] is True, rendered.where(harness.ADMINS_KEY)


def test_allowed_user_is_admitted_not_as_admin(rendered, hub):
    others = [u for u in rendered.allowed if u not in rendered.admins]
    if not others:
        pytest.skip(f"{rendered.name}: hub.allowedUsers names no non-admin user")
    for name in others:
        user = hub.login(name, rendered.password)
        assert user is not None, f"{rendered.where(harness.ALLOWED_KEY)}: {name!r} refused with the right password"
        assert user["admin"] is False, f"{rendered.where(harness.ADMINS_KEY)}: {name!r} became admin"


@pytest.mark.parametrize(
    "who,password",
    [
        ("admin", "wrong password"),
        ("admin", ""),
        ("admin", "RIGHT-PASSWORD-WITH-SPACE"),
        ("intruder", "RIGHT-PASSWORD"),
        ("empty-name", "RIGHT-PASSWORD"),
    ],
    ids=["wrong-password", "empty-password", "password-with-extra-space", "user-not-allowed", "empty-username"],
)
def test_refused(rendered, hub, who, password):
    username = {"admin": rendered.admins[0], "intruder": INTRUDER, "empty-name": ""}[who]
    password = password.replace("RIGHT-PASSWORD-WITH-SPACE", rendered.password + " ").replace(
        "RIGHT-PASSWORD", rendered.password
    )
    assert hub.login(username, password) is None, (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: {who} login was admitted"
    )


def test_user_in_database_but_not_in_config_is_refused(rendered, hub):
    # JupyterHub re-admits users found in its database (4.x always, 5.x with allow_existing_users);
    # the config alone decides here.
    from jupyterhub import orm

    hub.app.db.add(orm.User(name=INTRUDER))
    hub.app.db.commit()
    hub.loop.run_until_complete(hub.app.init_users())
    assert hub.login(INTRUDER, rendered.password) is None, (
        f"{rendered.where(harness.ALLOWED_KEY)}: a user in the hub database but not in the config was admitted"
    )


def test_allow_all_does_not_open_the_hub(rendered, tmp_path):
    # Someone adding Authenticator.allow_all (JupyterHub 5) must not let unlisted names in.
    h = InProcessHub(rendered, tmp_path, extra_config={"Authenticator": {"allow_all": True}})
    try:
        h.initialize()
        assert h.login(INTRUDER, rendered.password) is None, (
            f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: with allow_all an unlisted user was admitted"
        )
        assert h.login(rendered.admins[0], rendered.password) is not None
    finally:
        h.close()


@pytest.mark.parametrize("variant", sorted(MALFORMED))
def test_malformed_hash_stops_the_hub(rendered, tmp_path, variant):
    bad = MALFORMED[variant]
    h = InProcessHub(rendered, tmp_path, password_hash=bad)
    try:
        with pytest.raises(Exception) as info:
            h.initialize()
    finally:
        h.close()
    message = str(info.value)
    assert harness.HASH_CONFIG_NAME in message, (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: a {variant} hash stopped the hub without naming "
        f"{harness.HASH_CONFIG_NAME}: {message!r}"
    )
    if bad:
        assert bad not in message, f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: the error quotes the stored hash"


# -- a real hub process -------------------------------------------------------------------------


class HubProcess(harness.HubServer):
    """The hub of a rendered fixture as a real process, configured by harness.write_hub_config."""

    def __init__(self, r, workdir, password_hash=harness._MISSING):
        self.r = r
        try:
            chp = harness.chp_command()
        except RuntimeError as e:
            pytest.fail(str(e))
        self.local = harness.write_hub_config(r, workdir, chp=chp, password_hash=password_hash)
        env = dict(os.environ)
        env.pop("JUPYTERHUB_API_TOKEN", None)
        super().__init__(self.local["config_file"], workdir, self.local["port"], env)

    def start_and_wait(self):
        self.start()
        problem = self.wait_ready(START_TIMEOUT)
        if problem:
            pytest.fail(f"{self.r.where(harness.AUTH_SNIPPET_KEY)}: {problem}:\n" + self.log()[-4000:])

    def post_login(self, username, password):
        """GET /hub/login for the _xsrf cookie and field, then POST the form like a browser."""
        status, headers, body = self.request("GET", "/hub/login")
        assert status == 200, f"GET /hub/login answered {status}"
        cookies = {}
        for value in headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
        form = {"username": username, "password": password}
        m = re.search(r'name="_xsrf"\s+value="([^"]+)"', body)
        if m:
            form["_xsrf"] = m.group(1).replace("&#124;", "|").replace("&amp;", "&")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return self.request("POST", "/hub/login?next=%2Fhub%2Fhome", urllib.parse.urlencode(form), headers)


def login_cookies(headers):
    return [v.split("=", 1)[0] for v in headers.get_all("Set-Cookie") or []]


@pytest.fixture(scope="module")
def hub_process(rendered, tmp_path_factory):
    p = HubProcess(rendered, tmp_path_factory.mktemp(f"hubproc-{rendered.name}"))
    try:
        p.start_and_wait()
        yield p
    finally:
        p.stop()


def test_http_login_right_password(rendered, hub_process):
    admin = rendered.admins[0]
    status, headers, body = hub_process.post_login(admin, rendered.password)
    assert status == 302, (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: POST /hub/login as {admin!r} answered {status}, not 302:\n"
        + body[:500] + "\n" + hub_process.log()[-2000:]
    )
    assert "jupyterhub-hub-login" in login_cookies(headers), f"no login cookie: {login_cookies(headers)}"
    assert headers["Location"].endswith("/hub/home"), headers["Location"]


@pytest.mark.parametrize("who", ["wrong-password", "user-not-allowed"])
def test_http_login_refused(rendered, hub_process, who):
    import jupyterhub

    if who == "wrong-password":
        status, headers, body = hub_process.post_login(rendered.admins[0], rendered.password + "x")
    else:
        status, headers, body = hub_process.post_login(INTRUDER, rendered.password)
    assert status != 302 and "jupyterhub-hub-login" not in login_cookies(headers), (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: {who} login over HTTP was admitted"
    )
    # JupyterHub 5 answers 403; 4.0 re-renders the login page with 200.
    assert status == (403 if jupyterhub.version_info[0] >= 5 else 200), status
    assert "Invalid username or password" in body


def test_hub_log_has_no_secret(rendered, hub_process):
    log = hub_process.log()
    assert rendered.password not in log, "the hub log contains the password"
    assert rendered.get(harness.HASH_KEY) not in log, "the hub log contains the password hash"


def test_malformed_hash_stops_the_hub_process(rendered, tmp_path):
    bad = MALFORMED["too-few-iterations"]
    p = HubProcess(rendered, tmp_path, password_hash=bad)
    try:
        p.start()
        code = p.wait_exit(START_TIMEOUT)
        log = p.log()
    finally:
        p.stop()
    assert code is not None, f"{rendered.where(harness.HASH_KEY)}: jupyterhub kept running with a weak hash"
    assert code != 0, f"{rendered.where(harness.HASH_KEY)}: jupyterhub exited 0 with a weak hash"
    assert harness.HASH_CONFIG_NAME in log, (
        f"{rendered.where(harness.AUTH_SNIPPET_KEY)}: the hub stopped without naming {harness.HASH_CONFIG_NAME}:\n"
        + log[-3000:]
    )
    assert bad not in log, "the hub log quotes the stored hash"
