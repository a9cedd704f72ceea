"""Reading calls to upload from JSON Lines or CSV files (optionally gzipped) in object storage.

JSON Lines: one call object per line, exactly as ``upload.calls`` takes it (a file holding one JSON array of
calls is accepted too). CSV: a header row of call field names; values are converted to the documented types
(numbers, ``true``/``false``), nested fields (``callback``, ``tags``, ``wav_records``, ``mp3_records``) hold
JSON, and an empty cell means "not given" except for required text fields, where it is the empty string.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.uploads.rules import UploadValidationError, call_spec

CALL_FILE_FORMATS = ("jsonl", "csv")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
_TRUE, _FALSE = {"true", "1", "yes", "t", "y"}, {"false", "0", "no", "f", "n"}


def detect_format(name: str) -> str:
    """``jsonl`` or ``csv`` from a file name (``.jsonl``, ``.ndjson``, ``.json``, ``.csv``, each maybe ``.gz``)."""
    lowered = name.lower().removesuffix(".gz")
    for suffix, fmt in _SUFFIXES.items():
        if lowered.endswith(suffix):
            return fmt
    raise ComagicParameterError(f"Cannot tell the format of {name!r} from its name; pass calls_format='jsonl' or 'csv'")


def read_calls(path: Any, calls_format: str | None = None, *, max_reported: int = 20) -> list[dict[str, Any]]:
    """Read every call of a file (``ObjectStoragePath`` or anything with ``.name`` and ``.open('rb')``)."""
    fmt = calls_format or detect_format(str(getattr(path, "name", path)))
    if fmt not in CALL_FILE_FORMATS:
        raise ComagicParameterError(f"calls_format must be one of {', '.join(CALL_FILE_FORMATS)}, got {fmt!r}")
    with path.open("rb") as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if str(path).lower().endswith(".gz") else raw
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")  # -sig: CSV exported with a BOM
        return parse_jsonl(text, max_reported=max_reported) if fmt == "jsonl" else parse_csv(text)


def parse_jsonl(lines: Iterable[str], *, max_reported: int = 20) -> list[dict[str, Any]]:
    """Parse JSON Lines (blank lines skipped); a whole-file JSON array of calls is accepted too."""
    lines = list(lines)
    if "".join(lines).lstrip().startswith("["):
        calls = json.loads("".join(lines))
        if not isinstance(calls, list):
            raise ComagicParameterError("The calls file must hold JSON Lines or one JSON array of calls")
        return calls
    calls: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            calls.append(json.loads(line))
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: invalid JSON ({error.msg} at column {error.colno})")
    if problems:
        raise UploadValidationError(problems, calls=len(calls) + len(problems), limit=max_reported)
    return calls


def parse_csv(text: Iterable[str]) -> list[dict[str, Any]]:
    """Parse CSV with a header of call field names, converting cells to the documented types."""
    reader = csv.DictReader(text)
    return [coerce_row(row) for row in reader]


def coerce_row(row: Mapping[str, str | None]) -> dict[str, Any]:
    """Convert one CSV row; a cell that does not convert is kept as text for validation to report."""
    specs = call_spec()
    call: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None:  # more cells than header columns
            call["<extra cells>"] = cell
            continue
        name = name.strip()
        spec = specs.get(name)
        if cell is None or cell == "":
            if spec is not None and spec.required and spec.type == "string":
                call[name] = ""
            continue
        call[name] = _convert(spec.type if spec else "string", cell)
    return call


def _convert(kind: str, cell: str) -> Any:
    value = cell.strip()
    if kind == "number":
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return cell
    if kind == "boolean":
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else cell
    if kind in ("object", "array"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return cell
    return cell
