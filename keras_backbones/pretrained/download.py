"""Downloads into the cache: whole, verified, or not at all.

A file is downloaded once into `$KERAS_BACKBONES_HOME/downloads/<host>/<path of its URL>`
(default home: ~/.cache/keras_backbones), streamed into a temporary file beside it (through
`files.write_atomic`) and renamed into place only once it is complete and its sha256 matches
the hash its source publishes: the table's (torchvision's file names carry a prefix of it)
or, where the table has none, the one Hugging Face sends with an LFS file (the X-Linked-Etag
header, on the redirect or the response). A mismatch, a truncated body or an interrupt leaves
nothing in the cache. `KERAS_BACKBONES_MIRROR=<base URL>` replaces the scheme and host of
every URL, keeping its path: a cluster without internet serves the same files from its own
server, and the tests from 127.0.0.1.

No network, or a server that refuses: one error naming the URL and the path where the file
can be put by hand (a file already there is used, after the same hash check).
"""

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from keras_backbones.files import write_atomic

HOME_ENV = "KERAS_BACKBONES_HOME"
MIRROR_ENV = "KERAS_BACKBONES_MIRROR"
TIMEOUT_S = 60  # per blocking socket operation: a stalled server is an error, not a hang
_CHUNK = 1 << 20
_SHA256 = re.compile(r'^(?:W/)?"?([0-9a-f]{64})"?$')


class DownloadError(OSError):
    """A file that could not be downloaded or verified: says which, why and what to do."""


def cache_dir():
    """The cache's root: $KERAS_BACKBONES_HOME, or ~/.cache/keras_backbones."""
    home = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".cache",
                                                    "keras_backbones")
    return os.path.abspath(home)


def mirrored(url):
    """`url` with its scheme and host replaced by $KERAS_BACKBONES_MIRROR's, if it is set."""
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return url
    base = urllib.parse.urlsplit(mirror)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise DownloadError(f"{MIRROR_ENV}={mirror!r} is not an http(s) base URL "
                            "(e.g. http://mirror.local:8000).")
    path = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((base.scheme, base.netloc,
                                    base.path.rstrip("/") + path.path, path.query, ""))


def cached_path(url):
    """Where `url`'s file is kept: downloads/<host>/<path>, readable as its URL."""
    parts = urllib.parse.urlsplit(url)
    segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")]
    if not segments:
        raise DownloadError(f"{url} names no file.")
    return os.path.join(cache_dir(), "downloads", parts.netloc.replace(":", "_"), *segments)


def fetch(url, *, sha256=None, progress=True):
    """The local path of `url`'s file, downloaded into the cache unless it is there.

    sha256: the published hash (full or a prefix). A file already in the cache is checked
    against it too (it may have been put there by hand)."""
    path = cached_path(url)
    if os.path.isfile(path):
        if sha256:
            _check(url, path, _sha256_of(path), sha256, source="the table")
        return path
    source = mirrored(url)
    try:
        recorder = _RedirectHeaders()
        response = urllib.request.build_opener(recorder).open(
            urllib.request.Request(source, headers={"User-Agent": "keras-backbones"}),
            timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"Cannot download {source}: HTTP {error.code} {error.reason}. "
                            f"{_by_hand(url, path)}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"Cannot download {source} (no network? {reason}). "
                            f"{_by_hand(url, path)}") from None
    published, origin = (sha256, "the table") if sha256 else _etag_hash(recorder, response)
    with response:
        write_atomic(path, lambda f: _stream(response, f, source, published, origin, progress))
    return path


def _by_hand(url, path):
    return (f"Download it by other means and put it at {path} (or set {MIRROR_ENV} to a "
            f"server holding {urllib.parse.urlsplit(url).path}).")


def _stream(response, f, url, published, origin, progress):
    """Copies the body into `f`, hashing it; raises (write_atomic then deletes the temporary
    file) on a short body or a hash that is not the published one."""
    total = int(response.headers.get("Content-Length") or 0) or None
    digest = hashlib.sha256()
    received = 0
    with _progress_bar(total, os.path.basename(urllib.parse.urlsplit(url).path),
                       progress) as bar:
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (http.client.HTTPException, OSError) as error:  # the connection dropped
                raise DownloadError(f"Download of {url} failed after {received} bytes "
                                    f"({error!r}); nothing was kept. Try again.") from None
            if not chunk:
                break
            f.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise DownloadError(f"Download of {url} stopped after {received} of {total} bytes; "
                            "nothing was kept. Try again.")
    if published:
        _check(url, None, digest.hexdigest(), published, source=origin)


def _check(url, path, actual, published, *, source):
    if actual.startswith(published.lower()):
        return
    if path is not None:
        os.remove(path)
    raise DownloadError(f"{url}: sha256 {actual} does not match {published} published by "
                        f"{source}; the file was deleted" + (f" ({path})." if path else "."))


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _RedirectHeaders(urllib.request.HTTPRedirectHandler):
    """Keeps the headers of each redirect: Hugging Face sends an LFS file's sha256 on the
    redirect to its storage, not on the storage's response."""

    def __init__(self):
        self.headers = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.headers.append(headers)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _etag_hash(recorder, response):
    """(sha256, where it came from) that the server published for the file, or (None, None)."""
    for headers in (*recorder.headers, response.headers):
        for name in ("X-Linked-Etag", "ETag"):
            match = _SHA256.match((headers.get(name) or "").strip())
            if match:
                return match.group(1), f"the server's {name} header"
    return None, None


class _progress_bar:
    """tqdm on stderr when it is installed and `enabled` (it hides itself off a terminal)."""

    def __init__(self, total, name, enabled):
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                print(f"Downloading {name} ...", file=sys.stderr)
            else:
                self._bar = tqdm(total=total, desc=name, unit="B", unit_scale=True,
                                 unit_divisor=1024, file=sys.stderr, disable=None)

    def __enter__(self):
        return self

    def update(self, count):
        if self._bar is not None:
            self._bar.update(count)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
