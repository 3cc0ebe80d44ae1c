"""Sidecar metadata given to ``evsum index --metadata FILE``: a CSV or JSON manifest, or an RIS file.

A sidecar says what the PDF itself may not: authors, year, journal or issuing body, DOI or
PMID, document type, guideline version and date, licence, language.  Its values win over what
the parser found (``indexing.docinfo.source_info``).  Each record names the file it describes
by one of:

* ``file`` (CSV/JSON) or ``L1`` / ``UR`` (RIS, a ``file://`` URL or a path): a path relative
  to the sidecar's folder, or just the file name;
* ``sha256``: the SHA-256 of the file;
* ``doi``: matched against the DOI found in the PDF.

CSV: a header row, one row per document (the columns of ``FIELD_ALIASES`` plus ``title``).
JSON: a list of objects, or ``{"documents": [...]}``; list values (``authors``) are joined with
``;``.  RIS: ``TY``..``ER`` records; ``TI``/``T1`` title, ``AU``/``A1`` authors, ``PY``/``Y1`` year,
``JO``/``JF``/``T2`` journal, ``PB`` publisher, ``DO`` DOI, ``AN`` PMID (digits), ``DA`` date,
``ET`` edition (version), ``M3`` type of work (document type), ``LA`` language.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from evsum.errors import IndexingError

_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  - ?(.*)$")
_RIS_FIELDS = {"TI": "title", "T1": "title", "PY": "year", "Y1": "year", "JO": "journal", "JF": "journal",
               "T2": "journal", "PB": "publisher", "DO": "doi", "DA": "published", "ET": "version",
               "M3": "doc_type", "LA": "language"}


@dataclass(slots=True)
class Sidecar:
    """Sidecar records indexed by file path, file name, SHA-256 and DOI."""

    by_path: dict[Path, dict[str, str]] = field(default_factory=dict)
    by_name: dict[str, dict[str, str]] = field(default_factory=dict)
    by_sha: dict[str, dict[str, str]] = field(default_factory=dict)
    by_doi: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, record: dict[str, str], base: Path) -> None:
        """Index one record (values stripped, empty ones dropped)."""
        clean = {k.strip().lower(): v.strip() for k, v in record.items() if k and v and v.strip()}
        target = clean.pop("file", "")
        if target:
            self.by_path[(base / target).resolve()] = clean
            self.by_name[Path(target).name] = clean
        if clean.get("sha256"):
            self.by_sha[clean["sha256"].lower()] = clean
        if clean.get("doi"):
            self.by_doi[normalise_doi(clean["doi"])] = clean

    def lookup(self, path: Path, sha256: str = "", doi: str = "") -> dict[str, str]:
        """The record for a file (by path, then SHA-256, then file name, then DOI); empty if none."""
        for found in (self.by_path.get(path.resolve()), self.by_sha.get(sha256.lower()) if sha256 else None,
                      self.by_name.get(path.name), self.by_doi.get(normalise_doi(doi)) if doi else None):
            if found is not None:
                return {k: v for k, v in found.items() if k != "sha256"}
        return {}

    def __len__(self) -> int:
        return len({id(r) for r in [*self.by_path.values(), *self.by_sha.values(), *self.by_doi.values()]})


def normalise_doi(doi: str) -> str:
    """A DOI in lower case without a resolver prefix (``https://doi.org/``, ``doi:``)."""
    text = doi.strip().lower()
    text = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", text)
    return text.rstrip(".")


def read_sidecars(paths: list[Path]) -> Sidecar:
    """Read every sidecar file into one ``Sidecar`` (later files win); ``IndexingError`` on a bad file."""
    sidecar = Sidecar()
    for path in paths:
        for record in read_sidecar_records(path):
            sidecar.add(record, path.parent)
    return sidecar


def csv_rows(text: str) -> list[dict[str, str]]:
    """Rows of CSV text keyed by header (quoted fields may span lines; any line ending); ``csv.Error`` if malformed."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    return [{k: v or "" for k, v in row.items() if k} for row in reader]


def read_sidecar_records(path: Path) -> list[dict[str, str]]:
    """The records of one sidecar file, chosen by its suffix (.csv, .json, .ris)."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise IndexingError(f"cannot read metadata file {path}: {error}") from error
    if suffix == ".csv":
        try:
            return csv_rows(text)
        except csv.Error as error:
            raise IndexingError(f"metadata file {path} is not readable CSV: {error}") from error
    if suffix == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise IndexingError(f"metadata file {path} is not valid JSON: {error}") from error
        items = raw.get("documents", []) if isinstance(raw, dict) else raw
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise IndexingError(f"metadata file {path} must hold a list of objects (or {{\"documents\": [...]}})")
        return [{str(k): "; ".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in item.items()
                 if v is not None} for item in items]
    if suffix == ".ris":
        return parse_ris(text)
    raise IndexingError(f"metadata file {path}: expected a .csv, .json or .ris file")


def parse_ris(text: str) -> list[dict[str, str]]:
    """RIS records as sidecar dicts (see the module docstring for the tags read)."""
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    authors: list[str] = []
    for line in text.splitlines():
        match = _RIS_LINE.match(line.rstrip())
        if not match:
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "TY":
            current, authors = {}, []
        elif current is None:
            continue
        elif tag == "ER":
            if authors:
                current["authors"] = "; ".join(authors)
            records.append(current)
            current = None
        elif tag in ("AU", "A1"):
            authors.append(value)
        elif tag == "AN" and value.isdigit():
            current["pmid"] = value
        elif tag in ("L1", "UR") and value and "file" not in current:
            parsed = urlparse(value)
            if parsed.scheme in ("", "file"):  # file://relative/path puts its first segment in netloc
                current["file"] = unquote(parsed.netloc + parsed.path if parsed.scheme else value)
        elif tag in _RIS_FIELDS and value and _RIS_FIELDS[tag] not in current:
            current[_RIS_FIELDS[tag]] = value[:4] if tag in ("PY", "Y1") else value
    return records
