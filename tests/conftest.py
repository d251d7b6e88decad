import gc
import importlib.util
import os
import time

import pytest


def pytest_configure(config):
    if os.environ.get("KERAS_BACKBONES_REQUIRE_TORCH") == "1" and \
            importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("KERAS_BACKBONES_REQUIRE_TORCH=1 but torch is not installed: "
                                "install the parity extra (pip install -e '.[test,parity]').")


_UNGROUPED = set()  # node ids of tests whose xdist_group pytest-xdist did not apply


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup`, pytest-xdist's workers add each xdist_group mark's name to the
    node id ("...::test@group"), and the controller sends a group's tests to one worker. When a
    pytest and pytest-xdist pair stops doing that, each group is silently split (the main job
    trained on both workers; large-memory tests side by side): those tests fail instead."""
    if config.getoption("loadgroup", default=False):
        _UNGROUPED.update(item.nodeid for item in items
                          if item.get_closest_marker("xdist_group") and "@" not in item.nodeid)


def pytest_runtest_setup(item):
    if item.nodeid in _UNGROUPED:
        pytest.fail("--dist loadgroup: pytest-xdist did not apply this test's xdist_group mark "
                    "(this pytest/pytest-xdist pair does not support it): install the versions "
                    "setup.py's test extra allows.", pytrace=False)


def pytest_sessionstart(session):
    """TensorFlow, Keras and the package, imported once per process, are a third of a million
    objects that live as long as it: frozen out of the garbage collector's walks (which the
    tests trigger after each model they free: tests/support.py). Not in pytest-xdist's
    controller, which runs no test."""
    config = session.config
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", default=None):
        return
    import keras_backbones.models  # noqa: F401  (TensorFlow and Keras with it)

    gc.collect()
    gc.freeze()


# The README's main job, trained once for every test that needs its run: its own checks
# (tests/training/test_main_job.py) and the deployment of its model (tests/export): those
# modules share an xdist group (helpers.DIGITS_JOB), so one worker trains it once.
@pytest.fixture(scope="session")
def digits_job(tmp_path_factory):
    """The main job run through the command line: (work directory, its run directory,
    CompletedProcess, seconds it took)."""
    from tests.training.helpers import DIGITS, run_cli

    work = tmp_path_factory.mktemp("digits_job")
    started = time.time()
    done = run_cli("train", "--recipe", DIGITS, "--workdir", work / "run", timeout=600)
    return work, work / "run", done, time.time() - started


# The per-test time budget of CI's runs (see tests/time_budget.py).
pytest_plugins = ("tests.time_budget",)


# A stand-in for the servers that publish checkpoints (download.pytorch.org, huggingface.co),
# on the loopback address: KERAS_BACKBONES_MIRROR points every weights URL at it.
class CheckpointServer:
    """Serves files the test adds, at the paths of their published URLs, and counts requests.

    add(url, content, lfs=False): serve `content` at `url`'s path; lfs: as Hugging Face serves
    an LFS file (a 302 to a storage path, the sha256 in the redirect's X-Linked-Etag).
    truncate(url): declare the full length but close the connection halfway."""

    def __init__(self):
        import http.server
        import threading

        self.files, self.requests, self.truncated = {}, [], set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                entry = server.files.get(self.path)
                if entry is None:
                    self.send_error(404)
                    return
                content, headers = entry
                if "Location" in headers:
                    self.send_response(302)
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(content)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.path in server.truncated:
                    self.wfile.write(content[:len(content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, url, content, *, lfs=False, etag=None):
        import hashlib
        import urllib.parse

        path = urllib.parse.urlsplit(url).path
        if lfs:
            digest = etag or hashlib.sha256(content).hexdigest()
            storage = f"/lfs-storage/{hashlib.sha256(path.encode()).hexdigest()}"
            self.files[path] = (b"", {"Location": storage, "X-Linked-Etag": f'"{digest}"'})
            self.files[storage] = (content, {})
        else:
            self.files[path] = (content, {})

    def truncate(self, url):
        import urllib.parse

        path = urllib.parse.urlsplit(url).path
        target = self.files[path][1].get("Location", path)
        self.truncated.add(target)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def checkpoint_server(monkeypatch, tmp_path):
    """A CheckpointServer, with KERAS_BACKBONES_MIRROR pointing at it and the cache
    (KERAS_BACKBONES_HOME) in the test's temporary directory."""
    server = CheckpointServer()
    monkeypatch.setenv("KERAS_BACKBONES_MIRROR", server.url)
    monkeypatch.setenv("KERAS_BACKBONES_HOME", str(tmp_path / "cache"))
    yield server
    server.close()
