"""Which version of a raw folder's nine files is there, without reading them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from retail_intel.raw.contract import RAW_FILES


def raw_folder_fingerprint(raw_dir: Path) -> str | None:
    """Names, sizes and modification times of the nine files; None until all nine are there."""
    entries = []
    for raw_file in RAW_FILES:
        path = raw_dir / raw_file.file_name
        if not path.is_file():
            return None
        stat = path.stat()
        entries.append((raw_file.file_name, stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()
