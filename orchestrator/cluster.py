"""Connecting to Ray: a fresh local cluster, or an existing one with ``--address``.

A bare ``ray.init()`` joins whatever cluster is running on the machine, so a local cluster is
always started explicitly with ``address="local"``. The dashboard listens on 127.0.0.1 unless
the user says otherwise; Ray 2.60's token authentication is left on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from orchestrator.errors import UsageError


@contextlib.contextmanager
def _loopback_node() -> Iterator[None]:
    """Start a local cluster whose node address is 127.0.0.1, so its services bind there.

    Ray's GCS, raylet, workers and dashboard agent listen on loopback only when the node's
    address is a loopback address, and otherwise on every interface (``::``/``0.0.0.0``),
    where anyone on the network reaches them (the agent's ``/metrics`` has no
    authentication). ``ray.init(_node_ip_address="127.0.0.1")`` does not help: Ray
    replaces a loopback address by the routable one. Ray picks 127.0.0.1 itself where
    clusters are off (macOS, Windows: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER``), read from
    ``ray_constants.ENABLE_RAY_CLUSTER`` when the node starts; a local cluster of one node is
    exactly that case, so the flag is off for this start only (joining a cluster with
    ``--address`` needs the routable address, and is untouched). What Ray still binds to
    all interfaces is listed in the README (Security).
    """
    from ray._private import ray_constants

    if not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):  # a Ray that renamed it: start as
        yield  # Ray decides (tests/reliability/test_security_round2.py names the sockets)
        return
    previous = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous


@dataclass(frozen=True)
class ClusterInfo:
    address: str
    dashboard_url: str | None
    started_here: bool
    resources: dict[str, float]


def auth_hint() -> str:
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return "token authentication is disabled (RAY_AUTH_MODE=disabled)"
    return "log in with the token printed by `ray get-auth-token` (token auth is on)"


def connect(address: str | None = None, *, num_cpus: int | None = None,
            num_gpus: int | None = None, include_dashboard: bool = True,
            dashboard_host: str = "127.0.0.1") -> ClusterInfo:
    """Join ``address`` (``auto`` or ``HOST:PORT``), or start a local cluster."""
    if num_cpus is not None and num_cpus < 1:  # resume too: Ray's own error is a traceback
        raise UsageError(f"--num-cpus must be >= 1, but got {num_cpus}")
    import ray

    if address is not None:
        check_reachable(address)
        check_token(address)
    if ray.is_initialized():  # e.g. a test fixture or a notebook already connected
        return _info(started_here=False, address=address or "existing")
    if address is None:
        if include_dashboard:
            warn_if_exposed(dashboard_host)
        with _loopback_node():
            ctx = ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus,
                           include_dashboard=include_dashboard, dashboard_host=dashboard_host,
                           log_to_driver=True, logging_level="WARNING")
        return _info(started_here=True, address=ctx.address_info.get("address", "local"),
                     dashboard=ctx.dashboard_url or None)
    from ray.exceptions import AuthenticationError

    try:
        ctx = ray.init(address=address, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError, AuthenticationError) as exc:
        raise UsageError(f"--address {address}: could not join a Ray cluster: {exc}") from None
    return _info(started_here=False, address=address, dashboard=ctx.dashboard_url or None)


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds when no Ray head answers at ``HOST:PORT`` (ray.init retries for long).

    A bare TCP connect is not enough (proxies and firewalls accept and then stay silent), so
    we open an HTTP/2 connection the way gRPC does and wait for the server's SETTINGS frame.
    """
    import socket

    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--address {address!r} must be auto or HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as conn:
            conn.settimeout(timeout_s)
            conn.sendall(_HTTP2_PREFACE + _EMPTY_SETTINGS)
            frame = conn.recv(9)
    except OSError as exc:
        raise UsageError(f"--address {address}: nobody answers there ({exc.strerror or exc}); "
                         "start the head with `ray start --head` or check the address") from None
    if not frame:
        raise UsageError(f"--address {address}: the connection was closed without a reply; "
                         "no Ray head listens there")
    if len(frame) < 9 or frame[3] != 0x4:  # not an HTTP/2 SETTINGS frame: not a Ray head
        raise UsageError(f"--address {address}: something answers there, but not a Ray head "
                         "node's GCS (expected gRPC); check the host and port")


def check_token(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, naming the fix, when the head wants a token this process does not send.

    Ray 2.60 sends a token only where ``RAY_AUTH_MODE=token`` (an explicit address never turns
    it on, even with ``~/.ray/auth_token`` present, so the token is not handed to whatever
    answers there); a refused ``ray.init`` then retries for about 20 s and says only "Failed
    to connect". So we ask the GCS for its cluster id once, with what ``ray.init`` would send.
    """
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    try:
        import grpc
        from ray._raylet import (
            AuthenticationMode, AuthenticationTokenLoader, get_authentication_mode,
        )
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc
    except ImportError:  # a Ray without token authentication: ray.init decides
        return
    token_mode = get_authentication_mode() == AuthenticationMode.TOKEN
    loader = AuthenticationTokenLoader.instance()
    has_token = token_mode and loader.has_token(ignore_auth_mode=True)  # no raise if absent
    metadata = tuple(loader.get_token_for_http_header().items()) if has_token else ()
    with grpc.insecure_channel(address) as channel:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        try:
            stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), metadata=metadata,
                              timeout=timeout_s)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise UsageError(_token_problem(address, token_mode, has_token)) from None
            # anything else (a slow head, another Ray version): ray.init says what it is


def _token_problem(address: str, token_mode: bool, has_token: bool) -> str:
    where = ("copy the head's token (`ray get-auth-token` on the head) to ~/.ray/auth_token "
             "on this machine, or set RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH")
    if not token_mode:
        return (f"--address {address}: the cluster uses token authentication and this process "
                f"sends no token: set RAY_AUTH_MODE=token and {where}")
    if not has_token:
        return f"--address {address}: RAY_AUTH_MODE=token but no token was found: {where}"
    return (f"--address {address}: the cluster refused this machine's token (a token of "
            f"another cluster?): {where}")


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def warn_if_exposed(host: str) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the Ray dashboard will listen on {host}: anyone who reaches it can "
              "submit jobs that run code on this cluster; keep token authentication on and "
              "restrict the network", flush=True)


def _info(*, started_here: bool, address: str, dashboard: str | None = None) -> ClusterInfo:
    import ray

    if dashboard is None:
        try:
            dashboard = ray.get_runtime_context().dashboard_url or None  # type: ignore[attr-defined]
        except AttributeError:
            dashboard = None
    resources = {k: float(v) for k, v in ray.cluster_resources().items()}
    return ClusterInfo(address, dashboard, started_here, resources)


def shutdown_if_started(info: ClusterInfo) -> None:
    if info.started_here:
        import ray

        ray.shutdown()
