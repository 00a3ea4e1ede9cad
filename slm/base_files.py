"""What a base model's folder may hold, and copying one in (from a folder or a ZIP) within limits.

A Hugging Face causal LM needs a handful of files: its config, safetensors weights (one file, or shards
and their index) and its tokenizer's files. Only those names are accepted, flat in one folder: no code
(`*.py`), no pickled weights, no links, nothing else, each refused by name. Sizes and counts are checked
against `ImportLimits` (and the free disk) from the archive's directory before a byte is unpacked, and
counted again while unpacking, so an archive that lies about its sizes stops at the cap too.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from slm.base_errors import BaseModelError

# Exactly these names, plus `*.safetensors`: the files transformers reads for a causal LM and its tokenizer.
ALLOWED_NAMES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "model.safetensors.index.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "tokenizer.model",
        "spiece.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
WEIGHTS_SUFFIX = ".safetensors"
SKIPPED_DIRS = ("__MACOSX",)  # what macOS's archiver adds: metadata, never part of the model
DISK_MARGIN = 256 * 1024**2  # kept free beyond what the unpacked files take
# Weights and tokenizers barely compress (about 1.1:1); a member that claims to expand far more is a bomb.
MAX_RATIO = 100
RATIO_FROM = 1024**2  # smaller members (configs, vocabularies) may compress as text does


@dataclass(frozen=True)
class ImportLimits:
    max_parameters: int = 2_000_000_000
    max_bytes: int = 20 * 1024**3  # all files together, unpacked
    max_members: int = 64  # files


def refused_names(names: Iterable[str]) -> list[str]:
    """The names (relative paths) that may not be part of a base model folder, in order."""
    bad = []
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) != 1 or not (parts[0] in ALLOWED_NAMES or parts[0].endswith(WEIGHTS_SUFFIX)):
            bad.append(name)
    return bad


def check_names(names: list[str]) -> None:
    """BaseModelError naming the files a base model may not hold (code above all)."""
    code = [n for n in names if n.endswith((".py", ".pyc", ".so", ".pyd"))]
    if code:
        raise BaseModelError(
            f"The model holds code ({', '.join(code[:5])}): custom code is never run here, so a model "
            "that needs it cannot be imported."
        )
    bad = refused_names(names)
    if bad:
        raise BaseModelError(
            f"The model holds {len(bad)} file(s) a base model may not ({', '.join(bad[:5])}): only "
            "config.json, generation_config.json, *.safetensors with model.safetensors.index.json and "
            "the tokenizer's files (tokenizer.json, tokenizer_config.json, special_tokens_map.json, "
            "vocab.json, merges.txt, …), flat in one folder."
        )


def check_sizes(*, count: int, total: int, limits: ImportLimits, free: int | None) -> None:
    if count > limits.max_members:
        raise BaseModelError(f"The model has {count} files; at most {limits.max_members} are accepted.")
    if total > limits.max_bytes:
        raise BaseModelError(
            f"The model's files take {_size(total)} unpacked; at most {_size(limits.max_bytes)} are accepted."
        )
    if free is not None and total + DISK_MARGIN > free:
        raise BaseModelError(
            f"The model's files take {_size(total)} but only {_size(free)} are free where they are unpacked."
        )


def unzip_model(archive: Path, target: Path, limits: ImportLimits) -> Path:
    """Unpack a ZIP of a model folder (or of one folder holding it) into `target`, checked first."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not _skipped(m.filename)]
            names = _plan(members)
            files = [(m, names[m.filename]) for m in members if not m.is_dir()]
            check_names([rel for _, rel in files])
            for m, rel in files:
                if m.file_size > RATIO_FROM and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                    raise BaseModelError(
                        f"{rel} expands {m.file_size / max(m.compress_size, 1):,.0f} times when unpacked "
                        f"({_size(m.compress_size)} to {_size(m.file_size)}): a ZIP bomb, not weights."
                    )
            total = sum(m.file_size for m, _ in files)
            target.mkdir(parents=True, exist_ok=True)
            check_sizes(count=len(files), total=total, limits=limits, free=_free(target))
            written = 0
            for m, rel in files:
                with zf.open(m) as src, (target / rel).open("xb") as out:
                    written += _copy_capped(src, out, m.file_size, limits.max_bytes - written, rel)
    except zipfile.BadZipFile as exc:
        raise BaseModelError(f"Not a readable ZIP file: {exc}.") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, or a compression zipfile lacks
        raise BaseModelError(f"The ZIP cannot be unpacked: {exc}.") from None
    if not files:
        raise BaseModelError("The ZIP is empty.")
    return target


def copy_folder(source: Path, target: Path, limits: ImportLimits) -> Path:
    """Copy a local model folder into `target`, checked first: no links, allowed names, within limits."""
    entries = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if _skipped(rel):
            continue
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise BaseModelError(f"The folder holds a link, which is not accepted: {rel}.")
        if stat.S_ISREG(mode):
            entries.append((path, rel, path.lstat().st_size))
        elif not stat.S_ISDIR(mode):
            raise BaseModelError(f"The folder holds something that is not a file: {rel}.")
    check_names([rel for _, rel, _ in entries])
    target.mkdir(parents=True, exist_ok=True)
    total = sum(size for *_, size in entries)
    check_sizes(count=len(entries), total=total, limits=limits, free=_free(target))
    for path, rel, size in entries:
        with path.open("rb") as src, (target / rel).open("xb") as out:
            _copy_capped(src, out, size, limits.max_bytes, rel)
    if not entries:
        raise BaseModelError(f"{source} holds no files.")
    return target


def _plan(members: list[zipfile.ZipInfo]) -> dict[str, str]:
    """Each member's path inside the model folder (a single top folder is the folder itself), refusing
    paths outside it, links, duplicates and a name that is both a file and a folder."""
    seen: dict[str, str] = {}
    for m in members:
        name = m.filename
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or name.startswith(("/", "\\")) or "\\" in name:
            raise BaseModelError(f"The ZIP holds a path outside its folder: {name}")
        if stat.S_ISLNK(m.external_attr >> 16):
            raise BaseModelError(f"The ZIP holds a link, which is not accepted: {name}")
        key = rel.as_posix().lower()
        if not m.is_dir() and key in seen:
            raise BaseModelError(f"The ZIP holds {name} twice (as {seen[key]} and {name}).")
        if not m.is_dir():
            seen[key] = name
    files = set(seen)
    for key, name in seen.items():
        for parent in PurePosixPath(key).parents:
            if str(parent) in files:
                raise BaseModelError(
                    f"The ZIP holds both a file {seen[str(parent)]} and {name} inside a folder of that name."
                )
    tops = {PurePosixPath(m.filename).parts[0] for m in members if PurePosixPath(m.filename).parts}
    files_at_top = any(len(PurePosixPath(n).parts) == 1 for n in seen.values())
    strip = len(tops) == 1 and not files_at_top
    out = {}
    for m in members:
        parts = PurePosixPath(m.filename).parts
        out[m.filename] = PurePosixPath(*parts[1:]).as_posix() if strip and len(parts) > 1 else m.filename
    return out


def _copy_capped(src, out, declared: int, budget: int, rel: str) -> int:
    written = 0
    cap = min(declared, budget)
    for chunk in iter(lambda: src.read(1 << 20), b""):
        written += len(chunk)
        if written > cap:
            raise BaseModelError(
                f"{rel} unpacks to more than its declared {_size(declared)} or the size limit: refused."
            )
        out.write(chunk)
    return written


def _skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and parts[0] in SKIPPED_DIRS


def _free(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} GiB"
