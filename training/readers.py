"""Streaming readers for every import format, and the per-row checks. No database access here.

Each reader yields `RawRow`s one at a time (constant memory); a row that cannot be read carries
its reason instead of data, so one bad line never stops the file.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.svg import CleanSvg, SvgError, clean_svg

MAX_PROMPT_CHARS = 2000
MAX_LINE_BYTES = 2_000_000  # a JSONL line holds one SVG (1 MB cap) plus its fields
MAX_ZIP_MEMBER_BYTES = 1_000_000
MAX_ZIP_MEMBERS = 200_000
ICON_PROMPT_TAGS = 8


@dataclass
class RawRow:
    line: int  # 1-based line (JSONL/CSV) or member/file index
    source: str  # file name or member name
    data: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class CheckedRow:
    line: int
    source: str
    prompt: str = ""
    clean: CleanSvg | None = None
    external_id: str = ""
    sidecar: bool = False  # came with a JSON sidecar: an icon set
    tags: list[str] = field(default_factory=list)
    category: str = ""
    source_url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# The one map from a file's suffix to its import format (uploads, the command, the API).
SUFFIX_FORMAT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".zip": "zip"}
UPLOAD_SUFFIXES = "a .jsonl, .csv or .zip file"


def file_format(name: str) -> str | None:
    """jsonl, csv or zip from a file name's suffix; None for any other file."""
    return SUFFIX_FORMAT.get(Path(name).suffix.lower())


def detect_format(path: Path) -> str:
    """jsonl, csv, zip, icon_set (SVG + JSON sidecars) or svg_folder, from the path alone."""
    if path.is_dir():
        for svg in path.rglob("*.svg"):
            if svg.with_suffix(".json").exists():
                return "icon_set"
        return "svg_folder"
    fmt = file_format(path.name)
    if fmt is None:
        raise ValueError(
            f"Cannot tell the format of {path.name}: use .jsonl, .csv, .zip or a folder of SVG files."
        )
    return fmt


def read_jsonl(fh: IO[bytes], source: str) -> Iterator[RawRow]:
    for n, raw in enumerate(_bounded_lines(fh), start=1):
        if raw is None:
            yield RawRow(n, source, error=f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield RawRow(n, source, error=f"not valid UTF-8 (byte {exc.start})")
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(n, source, error=f"malformed JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield RawRow(n, source, error="each line must be a JSON object")
            continue
        yield RawRow(n, source, data=data)


def _bounded_lines(fh: IO[bytes]) -> Iterator[bytes | None]:
    """Lines of a binary stream; a line over the cap yields None (and is skipped) instead of eating memory."""
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:  # drain the rest of the oversized line
                more = fh.readline(1 << 20)
                if not more or more.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def read_csv(fh: IO[bytes], source: str) -> Iterator[RawRow]:
    # surrogateescape: a bad byte becomes a marker we can report per row instead of killing the reader.
    text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.DictReader(text)
    if not reader.fieldnames:
        return
    for row in reader:
        n = reader.line_num
        if None in row:
            yield RawRow(n, source, error="more fields than the header names")
            continue
        if any(_has_surrogates(v) for v in row.values() if isinstance(v, str)):
            yield RawRow(n, source, error="not valid UTF-8")
            continue
        data: dict[str, Any] = dict(row)
        for key in ("tags",):
            if data.get(key):
                data[key] = [t.strip() for t in str(data[key]).replace(";", ",").split(",") if t.strip()]
        if data.get("metadata"):
            try:
                data["metadata"] = json.loads(data["metadata"])
            except json.JSONDecodeError:
                yield RawRow(n, source, error="metadata column is not valid JSON")
                continue
        yield RawRow(n, source, data=data)


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def prompt_from_name(name: str, tags: list[str] | None = None, categories: list[str] | None = None) -> str:
    """An icon's prompt: its name in words, then a few tags and its categories."""
    words = Path(name).stem.replace("-", " ").replace("_", " ").strip()
    prompt = f"{words} icon"
    if tags:
        prompt += "; tags: " + ", ".join(str(t) for t in tags[:ICON_PROMPT_TAGS])
    if categories:
        prompt += "; categories: " + ", ".join(str(c) for c in categories)
    return prompt


def read_svg_folder(folder: Path, *, sidecars: bool) -> Iterator[RawRow]:
    for n, path in enumerate(sorted(folder.rglob("*.svg")), start=1):
        rel = path.relative_to(folder).as_posix()
        try:
            if path.stat().st_size > MAX_ZIP_MEMBER_BYTES:
                yield RawRow(n, rel, error=f"file larger than {MAX_ZIP_MEMBER_BYTES} bytes")
                continue
            svg_bytes = path.read_bytes()
        except OSError as exc:
            yield RawRow(n, rel, error=f"cannot read file: {exc.strerror}")
            continue
        tags: list[str] = []
        categories: list[str] = []
        meta: dict[str, Any] = {}
        sidecar = path.with_suffix(".json")
        if sidecars and sidecar.exists():
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
                tags = [str(t) for t in meta.get("tags", [])]
                categories = [str(c) for c in meta.get("categories", [])]
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
                yield RawRow(n, rel, error=f"sidecar {sidecar.name} is not valid JSON: {exc}")
                continue
        yield RawRow(n, rel, data=_file_row(path.stem, svg_bytes, tags, categories, meta))


def read_zip(fh: IO[bytes], source: str) -> Iterator[RawRow]:
    try:
        archive = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        yield RawRow(0, source, error="not a valid ZIP file")
        return
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".svg")]
        names = {m.filename for m in archive.infolist()}
        for n, member in enumerate(members[:MAX_ZIP_MEMBERS], start=1):
            # Sizes from the central directory can lie; read with a hard cap instead of trusting them.
            with archive.open(member) as part:
                svg_bytes = part.read(MAX_ZIP_MEMBER_BYTES + 1)
            if len(svg_bytes) > MAX_ZIP_MEMBER_BYTES:
                yield RawRow(n, member.filename, error=f"member larger than {MAX_ZIP_MEMBER_BYTES} bytes")
                continue
            tags, categories, meta = [], [], {}
            sidecar = member.filename[:-4] + ".json"
            if sidecar in names:
                try:
                    with archive.open(sidecar) as part:
                        meta = json.loads(part.read(MAX_ZIP_MEMBER_BYTES).decode("utf-8"))
                    tags = [str(t) for t in meta.get("tags", [])]
                    categories = [str(c) for c in meta.get("categories", [])]
                except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
                    yield RawRow(n, member.filename, error=f"sidecar is not valid JSON: {exc}")
                    continue
            yield RawRow(
                n,
                member.filename,
                data=_file_row(Path(member.filename).stem, svg_bytes, tags, categories, meta),
            )


def _file_row(
    stem: str, svg_bytes: bytes, tags: list[str], categories: list[str], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "prompt": prompt_from_name(stem, tags, categories),
        "svg": svg_bytes,
        "tags": tags,
        "category": categories[0] if categories else "",
        "external_id": stem,
        "metadata": {"categories": categories} if categories else {},
        "_sidecar": bool(meta),
    }


def check_rows(rows: list[RawRow]) -> list[CheckedRow]:
    """check_row for each row: what an import's worker process runs on a slice of the source."""
    return [check_row(row) for row in rows]


def check_row(row: RawRow) -> CheckedRow:
    """Field checks and the SVG module's clean; every failure becomes a per-row reason."""
    out = CheckedRow(line=row.line, source=row.source)
    if row.error:
        out.error = row.error
        return out
    data = row.data or {}
    prompt = data.get("prompt")
    svg = data.get("svg")
    missing = [name for name, value in (("prompt", prompt), ("svg", svg)) if value in (None, "")]
    if missing:
        out.error = "missing field(s): " + ", ".join(missing)
        return out
    if not isinstance(prompt, str):
        out.error = "prompt must be text"
        return out
    prompt = " ".join(prompt.split())
    if len(prompt) > MAX_PROMPT_CHARS:
        out.error = f"prompt longer than {MAX_PROMPT_CHARS} characters"
        return out
    if not isinstance(svg, str | bytes):
        out.error = "svg must be text"
        return out
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str | int | float) for t in tags):
        out.error = "tags must be a list of strings"
        return out
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        out.error = "metadata must be an object"
        return out
    try:
        out.clean = clean_svg(svg)
    except SvgError as exc:
        out.error = f"svg rejected: {exc}"
        return out
    out.prompt = prompt
    out.tags = [str(t)[:100] for t in tags][:50]
    out.category = str(data.get("category") or "")[:100]
    out.external_id = str(data.get("external_id") or "")[:255]
    out.sidecar = bool(data.get("_sidecar"))
    source_url = data.get("source") or data.get("source_url") or ""
    out.source_url = str(source_url)[:1000] if str(source_url).startswith(("http://", "https://")) else ""
    if source_url and not out.source_url:
        metadata = {**metadata, "source": str(source_url)[:500]}
    out.metadata = metadata
    return out
