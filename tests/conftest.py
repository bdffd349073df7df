"""Suite-wide guards: no network, modest threading.

Every test runs under :func:`_no_network`: connecting a socket, ``socket.create_connection``
or ``socket.getaddrinfo`` to anything but a loopback address or a Unix socket raises
:class:`NetworkBlocked` (loopback stays open for torch.distributed/gloo tests). Tests must
pass offline; a test that needs the network is a bug.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import ipaddress
import socket
from pathlib import Path

import pytest


class NetworkBlocked(RuntimeError):
    """Raised when a test tries to reach the network."""


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_loopback(host: object) -> bool:
    if host is None:  # getaddrinfo(None, port) resolves to the local host
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES or host == "":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _address_allowed(family: int, address: object) -> bool:
    if getattr(socket, "AF_UNIX", None) is not None and family == socket.AF_UNIX:
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    return _is_loopback(host)


def _install_guard() -> pytest.MonkeyPatch:
    """Patch socket connect / create_connection / getaddrinfo; returns the undo handle."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

    def connect(self, address):
        if not _address_allowed(self.family, address):
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _address_allowed(self.family, address):
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        if not _is_loopback(address[0]):
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise NetworkBlocked(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    connect.polydiff_guard = True  # lets the fixture check the guard is still in place
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", connect)
    mp.setattr(socket.socket, "connect_ex", connect_ex)
    mp.setattr(socket, "create_connection", create_connection)
    mp.setattr(socket, "getaddrinfo", getaddrinfo)
    # Libraries that read these stay offline, also in subprocesses the tests start.
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        mp.setenv(var, "1")
    return mp


_GUARD: list[pytest.MonkeyPatch] = []


def pytest_configure(config: pytest.Config) -> None:
    """Install the guard before collection, so test-module imports are covered too."""
    _GUARD.append(_install_guard())


def pytest_unconfigure(config: pytest.Config) -> None:
    while _GUARD:
        _GUARD.pop().undo()


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    """Every test runs with the network guard; fail loudly if something removed it."""
    if not getattr(socket.socket.connect, "polydiff_guard", False):
        _GUARD.append(_install_guard())
    yield


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test, restored after: the tests' tensors are small, and on the
    2-core CI box intra-op threads only contend with the other xdist worker."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` are skipped (not failed) when CUDA is absent (``pytest -m gpu``)."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def torchrun_job():
    """``torchrun_job(target, timeout) -> CompletedProcess``: ``target`` (a script and its
    arguments, or ``["-m", module, *args]``) as a 2-process gloo job on the loopback interface,
    on a port free at the call; the caller judges the result (a job may be meant to fail)."""
    import os
    import subprocess
    import sys

    import torch

    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")

    def run(target: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", TQDM_DISABLE="1",
                   PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
               "--master_addr", "127.0.0.1", "--master_port", str(port), *map(str, target)]
        return subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def torchrun(torchrun_job):
    """``torchrun(module, args)``: run ``python -m module args`` as a 2-process gloo job on the
    loopback interface (the way the README documents ``torchrun``); fails the test with the
    job's output tail when it fails."""

    def run(module: str, args: list[str], timeout: float = 300) -> None:
        proc = torchrun_job(["-m", module, *args], timeout)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    return run


@pytest.fixture
def first_loss():
    """``first_loss(run_dir)``: the loss of the first logged step in ``metrics.jsonl``."""
    import json
    from pathlib import Path

    def read(run_dir) -> float:
        for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if "loss" in rec:
                return rec["loss"]
        raise AssertionError(f"{run_dir}/metrics.jsonl has no loss record")

    return read


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    """``scripts/<name>.py`` as a fresh module (the scripts folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def script_module():
    """``script_module(name)``: ``scripts/<name>.py`` loaded afresh (changes to it do not leak)."""
    return _script


@pytest.fixture(scope="session")
def ship_pretrained():
    """``ship_pretrained(argv, settings)`` runs ``scripts/ship_pretrained.py`` in-process and
    returns what it printed; ``settings`` maps a kind's module name (``"ship_molecules"``) to
    attributes set on it before it runs (e.g. a tiny protocol in place of the full one)."""

    def run(argv: list[str], settings: dict[str, dict] | None = None) -> str:
        ship = _script("ship_pretrained")
        load = ship._ship_module

        def patched(name: str):
            module = load(name)
            for attr, value in (settings or {}).get(name, {}).items():
                setattr(module, attr, value)
            return module

        ship._ship_module = patched  # a fresh module: nothing to restore
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ship.main(argv)
        return out.getvalue()

    return run
