"""Fixtures for apiward's integration tests.

The binary comes from $APIWARD_BIN, or <repo>/build/apiward. Every gateway
a test starts is stopped at teardown with SIGTERM, and the teardown fails
the test when the process did not exit with status 0 or when a sanitizer
wrote a report: a crash never passes silently.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Gateway, Upstream, close_all_clients,  # noqa: E402
                     free_port, make_config)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("APIWARD_BIN", os.path.join(REPO, "build",
                                                    "apiward"))


@pytest.fixture(scope="session")
def apiward_bin():
    if not os.access(BINARY, os.X_OK):
        pytest.fail("apiward binary not found at %s (set APIWARD_BIN)"
                    % BINARY)
    return BINARY


class UpstreamPool:
    """Creates upstream servers and stops them all at teardown."""

    def __init__(self):
        self.servers = []

    def __call__(self, handler=None, name=None, **kw):
        up = Upstream(handler, name or "up%d" % len(self.servers), **kw)
        self.servers.append(up)
        return up

    def stop_all(self):
        for up in self.servers:
            up.stop()


class GatewayPool:
    """Starts gateways in one directory and checks their exit at teardown."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.gateways = []

    def __call__(self, servers=None, routes=None, config=None, args=None,
                 start=True, name=None, port=None, **overrides):
        """Start apiward.

        servers: "host:port" strings for upstream "demo"; routes: the route
        list (default: users, files, api); config: a complete dict or YAML
        text instead of the generated one; args: a command line instead of
        "run -c FILE"; other keywords are merged into the generated config.
        """
        port = port or free_port()
        name = name or "gw%d" % len(self.gateways)
        workdir = os.path.join(str(self.workdir), name)
        os.makedirs(workdir, exist_ok=True)
        if config is None and args is None:
            config = make_config(port, servers or [], workdir, routes,
                                 **overrides)
        gw = Gateway(self.binary, workdir, port, config, args, name)
        if start:
            # A gateway that fails to start has already been reported by
            # start(); it is not checked again at teardown.
            gw.start()
        self.gateways.append(gw)
        return gw

    def finish(self):
        close_all_clients()
        problems = []
        for gw in self.gateways:
            if gw.proc is None:
                continue
            try:
                gw.assert_clean_exit()
            except AssertionError as e:
                problems.append(str(e))
        assert not problems, "\n\n".join(problems)


@pytest.fixture
def upstreams():
    pool = UpstreamPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def upstream(upstreams):
    """One echo upstream."""
    return upstreams(name="echo")


@pytest.fixture
def gateways(apiward_bin, tmp_path):
    pool = GatewayPool(apiward_bin, tmp_path)
    yield pool
    pool.finish()


@pytest.fixture
def gw(gateways, upstream):
    """A gateway with the default routes in front of one echo upstream."""
    return gateways([upstream.addr])


class Shared:
    """A gateway shared by the tests of one module, with its upstream."""

    def __init__(self, gw, up):
        self.gw = gw
        self.up = up


@pytest.fixture(scope="module")
def shared_env(apiward_bin, tmp_path_factory):
    up = Upstream(name="shared")
    pool = GatewayPool(apiward_bin, tmp_path_factory.mktemp("shared"))
    gw = pool([up.addr])
    yield Shared(gw, up)
    up.stop()
    pool.finish()


@pytest.fixture
def shared(shared_env):
    """The module's gateway, checked alive, with its upstream log cleared."""
    gw = shared_env.gw
    assert gw.alive(), ("shared gateway died (status %r); stderr:\n%s"
                        % (gw.proc.poll(), gw.stderr()[-3000:]))
    shared_env.up.reset()
    return shared_env
