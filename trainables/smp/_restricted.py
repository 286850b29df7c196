"""A pickle reader that can only build booleans (for the original SMP mask files).

``pickle`` resolves every class or function it needs through ``find_class``; here that
hook knows four names and maps each to a guard of our own, so a file can at most build
lists, tuples, plain Python values and numpy bool scalars (methods.md 1.6, pitfall 13).
Anything else (a class instance, an ``os.system`` reduce) fails *before* it is called.
"""

from __future__ import annotations

import pickle
from typing import IO

import numpy as np


def _bool_dtype(spec: object, align: object = False, copy: object = True) -> np.dtype:
    if spec not in ("b1", "?"):
        raise pickle.UnpicklingError(f"only the numpy bool dtype is allowed, got {spec!r}")
    # a fresh copy: the pickle's BUILD step then sets state on it, not on numpy's singleton
    return np.dtype("b1", align=False, copy=True)


def _bool_scalar(dtype: object, data: object = b"") -> np.bool_:
    if not isinstance(dtype, np.dtype) or dtype != np.dtype(bool):
        raise pickle.UnpicklingError(f"only numpy bool scalars are allowed, got dtype {dtype!r}")
    if not isinstance(data, bytes) or data not in (b"\x00", b"\x01"):
        raise pickle.UnpicklingError(f"a numpy bool scalar holds one 0/1 byte, got {data!r}")
    return np.bool_(data == b"\x01")


def _latin1_bytes(text: object, encoding: object = "latin1") -> bytes:
    # protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1')
    if not isinstance(text, str) or encoding != "latin1" or len(text) > 1:
        raise pickle.UnpicklingError("only one-byte latin1 strings may be encoded")
    return text.encode("latin1")


ALLOWED = {
    ("numpy.core.multiarray", "scalar"): _bool_scalar,  # numpy < 2 (the original's)
    ("numpy._core.multiarray", "scalar"): _bool_scalar,  # numpy >= 2
    ("numpy", "dtype"): _bool_dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


class BoolMaskUnpickler(pickle.Unpickler):
    """Resolves only the names in :data:`ALLOWED`; everything else is refused."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a mask pickle may only hold lists of "
                "(numpy) booleans"
            ) from None

    def persistent_load(self, pid: object) -> object:
        raise pickle.UnpicklingError("persistent ids are not allowed in a mask pickle")


def load_bool_pickle(handle: IO[bytes], error: type[Exception]) -> object:
    """Unpickle ``handle`` with :class:`BoolMaskUnpickler`; failures raise ``error``."""
    try:
        return BoolMaskUnpickler(handle).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise error(f"{getattr(handle, 'name', 'mask pickle')}: {exc}") from exc
