"""Fail fast, with a useful message, when something must come from the Hugging Face hub.

Without this, an offline machine either waits through the hub client's retries or raises a
long traceback about HTTP; users need one line telling them what to pass instead.
"""

from __future__ import annotations

import os
import socket

HUB_HOST = "huggingface.co"


class HubUnavailableError(RuntimeError):
    """Something had to be downloaded and the hub cannot be reached."""


def hub_offline_flag() -> bool:
    """True when the user asked the HF libraries to stay offline."""
    truthy = {"1", "true", "yes", "on"}
    return any(
        os.environ.get(var, "").strip().lower() in truthy
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """One TCP connect to the hub, bounded by ``timeout_s`` (no retries, no HTTP)."""
    if hub_offline_flag():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", f"https://{HUB_HOST}")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    port = 443 if endpoint.startswith("https") else 80
    if ":" in host:
        host, port_text = host.rsplit(":", 1)
        port = int(port_text)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def require_hub(what: str, hint: str) -> None:
    """Raise :class:`HubUnavailableError` unless the hub can be reached.

    Args:
        what: the thing that needed downloading, e.g. ``"model 'bert-base-uncased'"``.
        hint: what the user can pass instead, e.g. ``"pass --data-dir DIR"``.
    """
    if hub_offline_flag():
        raise HubUnavailableError(
            f"{what} is not available locally and the hub is switched off "
            f"(HF_HUB_OFFLINE/HF_DATASETS_OFFLINE); {hint}"
        )
    if not hub_reachable():
        raise HubUnavailableError(
            f"{what} is not available locally and {HUB_HOST} cannot be reached; {hint}"
        )
