"""Import format (docs/import-format.md) and loader: `python -m shared.importer FILE`.

Not part of any Lambda: it needs pydantic, which the functions deliberately do not import.
"""

from shared.importer.loader import LoadReport, build_groups, load
from shared.importer.model import FORMAT, ImportFile, validate

__all__ = ["FORMAT", "ImportFile", "LoadReport", "build_groups", "load", "validate"]
