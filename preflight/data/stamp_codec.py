"""Image stamps as stored and as a model sees them: decode, normalize, augment (NumPy only).

A stamp is stored as the bytes of a compressed NumPy archive (``np.savez_compressed``) holding one
float array of shape (3, 64, 64): the g, r and z bands. ``decode_stamp`` loads it with
``allow_pickle=False`` (an archive holding Python objects could run code when unpickled: it is
refused), ``normalize_stamp`` scales each band robustly (median and MAD, so a bright star or a
cosmic ray does not set the scale of the whole stamp), and ``augment_stamp`` applies one of the
eight symmetries of the square (flips and 90-degree rotations), which leave a lens a lens.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

from preflight.errors import InputError, Reason

__all__ = [
    "MAD_TO_SIGMA",
    "STAMP_SHAPE",
    "augment_stamp",
    "decode_stamp",
    "encode_stamp",
    "normalize_stamp",
]

STAMP_SHAPE = (3, 64, 64)  # (bands g r z, height, width)
MAD_TO_SIGMA = 1.4826  # MAD x this = standard deviation, for Gaussian noise
_MIN_SCALE = 1e-6  # a flatter band is centred but not scaled (it stays 0 after centring)
_KEY = "stamp"  # the array name encode_stamp writes, and decode_stamp prefers


def encode_stamp(stamp: np.ndarray) -> bytes:
    """``np.savez_compressed`` bytes holding ``stamp`` as float32, named ``stamp``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, stamp=np.asarray(stamp, dtype=np.float32))  # named _KEY
    return buffer.getvalue()


def decode_stamp(data: bytes, shape: tuple[int, ...] = STAMP_SHAPE) -> np.ndarray:
    """Load one stamp from ``np.savez`` / ``np.save`` bytes, never unpickling anything.

    Args:
        data: the archive's bytes (one row of the ``stamp_npz`` column).
        shape: the shape every stamp must have.

    Returns:
        float32 array of ``shape``.

    Raises:
        InputError: (``bad_format``) the bytes are not a NumPy archive, hold Python objects
            (refused: ``allow_pickle=False``), hold several arrays and none named ``stamp``, or an
            array of another shape or of a non-numeric type.
    """
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                names = loaded.files
                if _KEY not in names and len(names) != 1:
                    raise _bad(f"the archive holds {len(names)} arrays {names}, none named 'stamp'")
                array = loaded[_KEY if _KEY in names else names[0]]
        else:
            array = np.asarray(loaded)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(f"not a NumPy archive of numbers ({exc})") from None
    if array.shape != shape or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise _bad(f"holds a {array.dtype} array of shape {array.shape}, expected {shape} floats")
    return array.astype(np.float32, copy=False)


def _bad(message: str) -> InputError:
    return InputError(f"stamp: {message}", reason=Reason.BAD_FORMAT)


def normalize_stamp(stamp: np.ndarray) -> np.ndarray:
    """Per band: subtract the median, divide by 1.4826 x the median absolute deviation.

    Args:
        stamp: float32 (C, H, W).

    Returns:
        float32 (C, H, W): background near 0 with unit noise, whatever the exposure. A band whose
        MAD is 0 (flat, or mostly constant) is only centred.
    """
    flat = stamp.reshape(stamp.shape[0], -1)  # (C, H*W)
    median = np.median(flat, axis=1, keepdims=True)  # (C, 1)
    mad = np.median(np.abs(flat - median), axis=1, keepdims=True) * MAD_TO_SIGMA  # (C, 1)
    scale = np.where(mad > _MIN_SCALE, mad, 1.0)
    return ((flat - median) / scale).reshape(stamp.shape).astype(np.float32, copy=False)


def augment_stamp(stamp: np.ndarray, rotations: int, flip: bool) -> np.ndarray:
    """One of the eight symmetries of the square: ``rotations`` x 90 degrees, then a flip.

    Args:
        stamp: (C, H, W) with H == W.
        rotations: quarter turns counter-clockwise, 0 to 3.
        flip: mirror left-right after rotating (with the rotations, this gives every flip).

    Returns:
        A contiguous (C, H, W) array.
    """
    out = np.rot90(stamp, k=rotations, axes=(1, 2))
    if flip:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)
