"""Reading an `.npz` without trusting it: weight files, checkpoints and data sets alike.

An `.npz` is a zip of `.npy` members, and a zip can declare any size: a 1.6 MB file may inflate
to gigabytes. So each member's name comes from the zip directory and its dtype and shape from
its `.npy` header (a few hundred bytes read from the member's stream); the caller checks those
against what it expects, and only then are the members it asks for inflated, each exactly to
the size its header declares and no further.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy

from nndl.runtime import resources

SUFFIX = ".npy"
MAX_HEADER = 10000  # numpy's own limit on an .npy header, in bytes


@dataclass(frozen=True)
class Member:
    """One array as its header declares it."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        count = 1
        for n in self.shape:
            count *= n
        return count * self.dtype.itemsize


class Archive:
    """An open `.npz`: `keys` from the zip directory, `header(key)`, then `read(keys)`.

    `error` is the exception class its messages are raised as (WeightFileError, DataError);
    `hint` follows the messages for files that are no .npz at all."""

    def __init__(self, path, error: type[Exception], what: str, hint: str = ""):
        self.path, self.where, self.error = path, _name(path), error
        self.hint = f": {hint}" if hint else ""
        self.zip = _open_zip(path, self.where, error, what, self.hint)
        self.infos: dict[str, zipfile.ZipInfo] = {}
        self._headers: dict[str, tuple[Member, int]] = {}
        for info in self.zip.infolist():
            key = info.filename.removesuffix(SUFFIX)
            if key in self.infos:
                self.close()
                raise error(f"{self.where} is damaged: it holds `{key}` twice")
            self.infos[key] = info

    @property
    def keys(self) -> list[str]:
        """The members' names (without `.npy`), in the order the zip lists them."""
        return list(self.infos)

    def header(self, key: str) -> Member:
        """The member's dtype and shape, from its `.npy` header alone."""
        if key not in self._headers:
            self._headers[key] = self._read_header(key)
        return self._headers[key][0]

    def read(self, keys) -> dict[str, np.ndarray]:
        """Inflate these members (after the caller has checked their headers)."""
        members = [self.header(key) for key in keys]
        need = sum(m.nbytes for m in members)
        allowed, source = resources.limit()
        if need > allowed:
            raise self.error(f"{self.where} declares {resources.size(need)} of arrays, more "
                             f"than the {resources.size(allowed)} allowed ({source})")
        return {m.key: self._read_array(m.key) for m in members}

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_header(self, key: str) -> tuple[Member, int]:
        info = self.infos[key]
        if not info.filename.endswith(SUFFIX):
            raise self.error(f"{self.where} is damaged: `{info.filename}` is not an array "
                             "(.npy)")
        try:
            with self.zip.open(info) as stream:
                version = npy.read_magic(stream)
                read = {(1, 0): npy.read_array_header_1_0,
                        (2, 0): npy.read_array_header_2_0}.get(version)
                if read is None:
                    raise ValueError(f".npy format {version[0]}.{version[1]} (NNDL reads 1.0 "
                                     "and 2.0)")
                shape, _, dtype = read(stream, max_header_size=MAX_HEADER)
                offset = stream.tell()
        except Exception as e:  # noqa: BLE001 - any failure to decode is the file's fault
            raise self.error(f"{self.where} is damaged: `{key}` cannot be read "
                             f"({reason(e)})") from None
        member = Member(key, tuple(int(n) for n in shape), dtype)
        if dtype.hasobject:
            raise self.error(f"{self.where}: `{key}` is an object array, which numpy stores "
                             "with pickle and NNDL never loads: save plain numbers (ints, "
                             "floats or bools)")
        if info.file_size != offset + member.nbytes:  # a lying header or trailing bytes
            raise self.error(f"{self.where} is damaged: `{key}` declares {member.nbytes} bytes "
                             f"of {dtype} {member.shape} but holds {info.file_size - offset}")
        return member, offset

    def _read_array(self, key: str) -> np.ndarray:
        try:
            with self.zip.open(self.infos[key]) as stream:
                return npy.read_array(stream, allow_pickle=False, max_header_size=MAX_HEADER)
        except Exception as e:  # noqa: BLE001 - damage inside a member shows here
            raise self.error(f"{self.where} is damaged: `{key}` cannot be read "
                             f"({reason(e)})") from None


def _name(path) -> str:
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)


def _open_zip(path, where: str, error, what: str, hint: str) -> zipfile.ZipFile:
    if not isinstance(path, (str, os.PathLike)):  # an open binary file
        return _zip(path, where, error, hint)
    if not os.path.exists(path):
        raise error(f"no {what} at {where}")
    if os.path.isdir(path):
        raise error(f"{where} is a directory, not an .npz {what}")
    if not os.path.isfile(path):  # a FIFO would block the read forever, a device never end
        raise error(f"{where} is not a regular file, so not an .npz {what}")
    return _zip(path, where, error, hint)


def _zip(path, where: str, error, hint: str) -> zipfile.ZipFile:
    try:
        if _starts_like_npy(path):
            raise error(f"{where} holds a single array (an .npy file), not an .npz{hint}")
        return zipfile.ZipFile(path)
    except error:
        raise
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, odd zip flags...
        raise error(f"{where} is not a readable .npz file ({reason(e)}){hint}") from None


def _starts_like_npy(path) -> bool:
    if not isinstance(path, (str, os.PathLike)):
        start = path.tell()
        magic = path.read(len(npy.MAGIC_PREFIX))
        path.seek(start)
        return magic == npy.MAGIC_PREFIX
    with open(path, "rb") as f:
        return f.read(len(npy.MAGIC_PREFIX)) == npy.MAGIC_PREFIX


def reason(e: Exception) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
