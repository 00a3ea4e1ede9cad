"""Near-duplicates and search, measured: `python bench/near_duplicates.py` (no arguments).

Pictures. 1,000 MDI icons (every k-th name of ../shared/data/mdi/icons, read in place) are stored as
training examples, fingerprinted and indexed by the platform's own services (example_fingerprints_compute,
the usearch index). Each gets a perturbed copy (bench/_perturb.py: shifted 1 unit, re-serialised,
stroke +10%, recoloured), fingerprinted the same way and searched for:
- recall: the share of copies whose nearest example is their original, at or above the near-duplicate
  threshold (NEAR_DUPLICATE_SIMILARITY, the setting's default: not tuned here);
- false positive rate: the share of pairs of distinct icons (i < j) at or above the threshold. Named
  variants are not distinct pictures: a pair where one name's dash-separated words contain the other's,
  in order (`account` / `account-outline`, `arrow-left` / `arrow-left-bold`), is left out of the
  denominator. The rule reads only the set's own naming convention (a name extended by more words); the
  rate over every pair, variants included, is printed too;
- search p95: the platform's vector index (same parameters as the service's) holding 100,000 vectors:
  the 1,000 icons and 99,000 fillers, each an icon's vector with Gaussian noise added (so that they crowd
  round real pictures as a large set of icons would); the time of one k=10 search per copy.

Words. `name_top1`: every Lucide icon (../shared/data/lucide/icons, with its JSON sidecar's tags and
categories) stored as the icon-set import stores it (name, prompt built from name, tags and categories);
for each, a search for the words of its name (`arrow-big-down` -> "arrow big down") through the
platform's word search; the share whose first result is that icon.

Runs on a throw-away SQLite database (FTS5), or on DATABASE_URL (PostgreSQL full-text search) when set.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's core/ before any installed copy (_perturb imports core.svg)

from _django import setup  # noqa: E402
from _perturb import perturb  # noqa: E402

DATA = Path(os.environ.get("ATELIER_SHARED_DATA", ROOT.parent.parent / "shared" / "data"))
if not DATA.exists():
    DATA = Path("/work/shared/data")
ICONS = 1000
INDEX_SIZE = 100_000
FILLER_NOISE = 0.35


def pick_icons(folder: Path, n: int) -> list[Path]:
    paths = sorted(folder.glob("*.svg"))
    step = max(1, len(paths) // n)
    return paths[::step][:n]


def is_named_variant(a: str, b: str) -> bool:
    """One name's words contain the other's, in order (a subsequence)."""
    short, long = sorted((a.split("-"), b.split("-")), key=len)
    it = iter(long)
    return all(word in it for word in short)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def store_examples(rows: list[dict], source_type: str) -> list:
    import hashlib

    from core.svg import clean_svg
    from training.models import TrainingExample

    objs = [
        TrainingExample(
            prompt=row["prompt"],
            svg_content=clean_svg(row["svg"]).svg,  # stored sanitised, as every import stores it
            source_type=source_type,
            external_id=row["name"],
            tags=row.get("tags", []),
            data_category=row.get("category", ""),
            content_hash=hashlib.sha256(f"{source_type}/{row['name']}".encode()).hexdigest(),
        )
        for row in rows
    ]
    return TrainingExample.objects.bulk_create(objs, batch_size=500)


def pictures() -> tuple[float, float, float]:
    import numpy as np
    from django.conf import settings

    from core.svg.fingerprint import fingerprint_svg
    from training.models import ExampleFingerprint
    from training.services import similarity_index
    from training.services.fingerprints import example_fingerprints_compute, vector_of
    from training.services.similarity import neighbours_of_vector

    paths = pick_icons(DATA / "mdi" / "icons", ICONS)
    names = [p.stem for p in paths]
    svgs = [p.read_text() for p in paths]
    examples = store_examples(
        [{"prompt": f"{n} icon", "svg": s, "name": n} for n, s in zip(names, svgs, strict=True)], "svg_files"
    )
    start = time.perf_counter()
    example_fingerprints_compute()
    fp_s = time.perf_counter() - start
    indexed = similarity_index.index_write()
    threshold = settings.NEAR_DUPLICATE_SIMILARITY
    by_example = {row.example_id: row for row in ExampleFingerprint.objects.all()}
    originals = np.stack([vector_of(by_example[e.pk]) for e in examples])
    copies = [fingerprint_svg(perturb(svg)) for svg in svgs]
    found = 0
    service_ms: list[float] = []
    for example, copy in zip(examples, copies, strict=True):
        t0 = time.perf_counter()
        near = neighbours_of_vector(copy.vector, k=1)
        service_ms.append((time.perf_counter() - t0) * 1000)
        found += bool(near and near[0].example.pk == example.pk and near[0].near_duplicate)
    recall = found / len(examples)
    sims = originals @ originals.T
    flagged = all_pairs = distinct = flagged_distinct = 0
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            hit = sims[i, j] >= threshold
            all_pairs += 1
            flagged += hit
            if not is_named_variant(names[i], names[j]):
                distinct += 1
                flagged_distinct += hit
    fpr = flagged_distinct / distinct
    print(f"icons={len(names)} indexed={indexed} fingerprint_ms_each={fp_s * 1000 / len(names):.1f}")
    print(
        f"threshold={threshold} copies_found={found} pairs={all_pairs} named_variant_pairs={all_pairs - distinct}"
    )
    print(
        f"false_positive_rate_all_pairs={flagged / all_pairs:.6f} (flagged {flagged}, of them distinct {flagged_distinct})"
    )
    print(f"service_search_p95_ms (1,000 examples, index + rows)={p95(service_ms):.2f}")
    return recall, fpr, index_p95(originals, np.stack([c.vector for c in copies]))


def index_p95(originals, copies) -> float:
    import numpy as np
    from usearch.index import Index

    rng = np.random.default_rng(0)
    filler_n = INDEX_SIZE - len(originals)
    base = originals[rng.integers(0, len(originals), filler_n)]
    filler = base + rng.normal(0, FILLER_NOISE / np.sqrt(originals.shape[1]), base.shape).astype(np.float32)
    filler /= np.linalg.norm(filler, axis=1, keepdims=True)
    index = Index(ndim=originals.shape[1], metric="cos", dtype="f16")
    index.add(np.arange(INDEX_SIZE, dtype=np.uint64), np.vstack([originals, filler]).astype(np.float32))
    times = []
    for vec in copies:
        t0 = time.perf_counter()
        index.search(vec, 10)
        times.append((time.perf_counter() - t0) * 1000)
    return p95(times)


def name_top1() -> float:
    from training.models import TrainingExample
    from training.readers import prompt_from_name
    from training.selectors_search import training_example_search

    rows = []
    for path in sorted((DATA / "lucide" / "icons").glob("*.svg")):
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        tags, categories = meta.get("tags", []), meta.get("categories", [])
        rows.append(
            {
                "name": path.stem,
                "svg": path.read_text(),
                "tags": tags,
                "category": categories[0] if categories else "",
                "prompt": prompt_from_name(path.stem, tags, categories),
            }
        )
    store_examples(rows, "icon_set")
    lucide = TrainingExample.objects.filter(source_type="icon_set")
    hits, times, misses = 0, [], []
    for row in rows:
        t0 = time.perf_counter()
        first = training_example_search(query=row["name"].replace("-", " "), qs=lucide).values_list(
            "external_id", flat=True
        )[:1]
        first = list(first)
        times.append((time.perf_counter() - t0) * 1000)
        if first and first[0] == row["name"]:
            hits += 1
        else:
            misses.append(f"{row['name']}->{first[0] if first else None}")
    print(f"lucide_names={len(rows)} word_search_p95_ms={p95(times):.2f} misses(first 10)={misses[:10]}")
    return hits / len(rows)


def main() -> None:
    setup("near-duplicates")
    from django.db import connection

    print(f"database={connection.vendor}")
    recall, fpr, search_ms = pictures()
    top1 = name_top1()
    print(
        f"recall={recall:.4f} false_positive_rate={fpr:.6f} search_p95_ms={search_ms:.3f} name_top1={top1:.4f}"
    )


if __name__ == "__main__":
    main()
