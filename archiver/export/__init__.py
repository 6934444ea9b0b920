"""Standard exports: WARC 1.1 and WACZ for replay tools, JSONL and CSV for spreadsheets and code.

`formats` holds `export()`, which picks the writer by format and replaces the file only once
complete; `selection` chooses the captures; `warc` writes records, repeated bodies as revisits;
`wacz` packages a WARC with its index, pages and hashes; `rows` writes JSONL and CSV.
"""

from __future__ import annotations

from archiver.export.formats import ExportError, ExportFormat, ExportSummary, export
from archiver.export.rows import FIELDS
from archiver.export.wacz import surt

__all__ = ["FIELDS", "ExportError", "ExportFormat", "ExportSummary", "export", "surt"]
