"""Where data are read and results are written, once for the whole package.

- Data: the UCI splits and the AG News test split ship inside the package (``theory/_data``, read through
  ``importlib.resources``; sources and terms in its README); the environment variable ``LTL_DATA_DIR`` names
  another folder with the same layout instead.
- Results: ``$LTL_RESULTS_DIR/<topic>``; when the variable is unset, ``results/<topic>`` in the working
  directory. Every sweep appends one JSON line per finished configuration (:func:`append_jsonl`) and reads
  them back with :func:`read_jsonl`, which skips a last line torn by an interruption, so a rerun resumes
  and recomputes only what was in flight. Whole-file results are replaced atomically (:func:`write_json`).
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path

__all__ = [
    "DATA_ENV_VAR",
    "RESULTS_ENV_VAR",
    "packaged_data_dir",
    "data_dir",
    "data_path",
    "results_dir",
    "read_jsonl",
    "append_jsonl",
    "write_json",
    "read_json",
    "write_npy",
]

DATA_ENV_VAR = "LTL_DATA_DIR"
RESULTS_ENV_VAR = "LTL_RESULTS_DIR"


def packaged_data_dir() -> Path:
    """The data shipped inside the installed package (``theory/_data``)."""
    return Path(str(importlib.resources.files("theory") / "_data"))


def data_dir() -> Path:
    """The data directory: ``$LTL_DATA_DIR`` when set, else the packaged data.

    Raises ``FileNotFoundError`` naming ``LTL_DATA_DIR`` when the folder does not exist.
    """
    configured = os.environ.get(DATA_ENV_VAR)
    candidate = Path(configured).expanduser() if configured else packaged_data_dir()
    if not candidate.is_dir():
        how = f"{DATA_ENV_VAR}={configured!r}" if configured else f"the packaged data folder {candidate}"
        raise FileNotFoundError(
            f"data directory not found ({how} does not exist); set the environment variable "
            f"{DATA_ENV_VAR} to the folder that holds ag_news/ and uci/"
        )
    return candidate


def data_path(*parts: str) -> Path:
    """Path of a file or folder inside the data directory; raises if it does not exist."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found inside the data directory {data_dir()} (set {DATA_ENV_VAR} to change it)"
        )
    return path


def results_dir(topic: str, results: str | os.PathLike | None = None) -> Path:
    """Folder for one topic's stored results.

    Parameters
    ----------
    topic : str
        Subfolder, e.g. ``"nb_lr"`` or ``"dkm_uci"``.
    results : path-like, optional
        An explicit folder, used as given (no topic appended). Default: ``$LTL_RESULTS_DIR/<topic>``,
        or ``results/<topic>`` in the working directory when the variable is unset.
    """
    if results is not None:
        return Path(results).expanduser()
    return Path(os.environ.get(RESULTS_ENV_VAR) or "results").expanduser() / topic


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Records of a JSON-lines file; a missing file is empty and an unparsable (torn) line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # cut by an interruption: that configuration is recomputed
            continue
    return records


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one record as a line and flush it, so an interruption loses at most the record in flight.

    A torn last line left by an earlier interruption is ended first, so the new record starts a line of its own.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell():
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write((json.dumps(record) + "\n").encode())
        fh.flush()


def write_json(path: str | os.PathLike, payload, **dump_options) -> None:
    """Write JSON through a temporary file and an atomic rename: readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload, **dump_options))
    os.replace(tmp, path)


def read_json(path: str | os.PathLike):
    """The JSON value stored at ``path``, or ``None`` when there is none."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def write_npy(path: str | os.PathLike, array) -> None:
    """Save a NumPy array through a temporary file and an atomic rename (see :func:`write_json`)."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npy")
    np.save(tmp, array)
    os.replace(tmp, path)
