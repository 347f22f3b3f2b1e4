"""The Lambda zip built in Python as package.tf's archive_file builds it: same files, fixed mode."""

import zipfile
from pathlib import Path

from localdev.runtime import LAMBDA_SOURCE

EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", "tests"}
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def lambda_files(source: Path = LAMBDA_SOURCE) -> list[Path]:
    return sorted(
        path
        for path in source.rglob("*")
        if path.is_file()
        and not EXCLUDED_PARTS & set(path.relative_to(source).parts)
        and path.suffix != ".pyc"
    )


def build_lambda_zip(destination: Path, source: Path = LAMBDA_SOURCE) -> Path:
    """Write the zip with fixed dates and mode 0644, so its hash is the same on every machine."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in lambda_files(source):
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=FIXED_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return destination
