"""The one error type the analysis raises for bad input (besides :class:`SchemaError`).

The CLI turns both into one ``error: ...`` line and exit code 2.
"""

from __future__ import annotations

import re


class AnalysisError(ValueError):
    """Input the analysis cannot work with: a missing folder, no rows, an unknown column."""


# ``:/+``, not ``://``: a URI made into a path (``Path("s3://K:S@b").resolve()`` gives
# ``/cwd/s3:/K:S@b``) must be redacted as well, since messages echo the resolved path.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:/+)[^/@\s?#]+@")
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&](?:[A-Za-z_]*(?:secret|key|token|password|passwd|credential|signature)"
    r"[A-Za-z_]*))=[^&\s#]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the credentials of any URI in it replaced by ``***``.

    Covers user info (``s3://KEY:SECRET@bucket``) and query options whose name says secret
    (``?access_key=...&secret_key=...&session_token=...``), so that messages, logs and
    experiment.json never repeat them.

    Example:
        >>> redact("s3://AKIA:abc@bucket/exps?secret_key=x&region=eu")
        's3://***@bucket/exps?secret_key=***&region=eu'
    """
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group('key')}=***", text)
