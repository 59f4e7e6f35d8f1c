"""Import format (docs/import-format.md) and loader: `python -m infra.importer FILE`.

Not part of any Lambda: it needs pydantic, which the functions deliberately do not import.
"""

from infra.importer.loader import LoadReport, build_groups, load
from infra.importer.model import FORMAT, ImportFile, validate

__all__ = ["FORMAT", "ImportFile", "LoadReport", "build_groups", "load", "validate"]
