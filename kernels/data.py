"""Location of the real data sets (AG News, UCI regression splits).

The directory comes from the environment variable ``LTL_DATA_DIR``; when it is unset, the
``shared/data`` folder beside the repository (``<repo>/../shared/data``) is used if it exists.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV_VAR", "data_dir", "data_path"]

DATA_ENV_VAR = "LTL_DATA_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The configured data directory; raises ``FileNotFoundError`` naming ``LTL_DATA_DIR`` if absent."""
    configured = os.environ.get(DATA_ENV_VAR)
    candidate = Path(configured).expanduser() if configured else _REPO_ROOT.parent / "shared" / "data"
    if not candidate.is_dir():
        how = f"{DATA_ENV_VAR}={configured!r}" if configured else f"{DATA_ENV_VAR} is unset and the default {candidate}"
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
