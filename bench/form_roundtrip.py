"""The model form's round trip on real icon sets: what it keeps (pixel L2 at 64 px between the stored SVG
and its decoded form) and how short it makes a design (tokens per icon before and after).

Before: the stored (sanitised, normalised) SVG text through the SVG-aware BPE tokenizer this project used
until the model form, trained on the same set with the same vocabulary size. tokens_form_v1: the form's
version 1 (one unit an integer). After: the current form version's units, one token each; vocab: the size
of the tokenizer training builds for it (the form's units on that grid and those the set uses, plus the
bare BPE alphabet of a one-word prompt set).

    python bench/form_roundtrip.py ../shared/data/lucide/icons ../shared/data/mdi/icons
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.svg import SvgError, clean_svg  # noqa: E402
from core.svg.compare import pixel_l2, try_rasterise  # noqa: E402
from slm.form.decode import decode  # noqa: E402
from slm.form.encode import encode, try_encode  # noqa: E402
from slm.form.grid import choose_grid  # noqa: E402
from slm.form.spec import FormSpec, form_units, opening_units, units_of  # noqa: E402
from slm.tokenizer import encode_texts, train_tokenizer  # noqa: E402


def measure(folder: Path) -> str:
    t0 = time.perf_counter()
    svgs = []
    for path in sorted(folder.glob("*.svg")):
        with contextlib.suppress(SvgError):  # the importer refuses these too
            svgs.append(clean_svg(path.read_bytes()).svg)
    choice = choose_grid(svgs)
    losses, forms, failures, v1_units = [], [], {}, []
    v1 = FormSpec(choice.spec.grid, choice.spec.view, version=1)
    for svg in svgs:
        encoded, why = try_encode(svg, choice.spec)
        if encoded is None:
            failures[why] = failures.get(why, 0) + 1
            continue
        forms.append(encoded.text)
        v1_units.append(encode(svg, v1).units)
        before, after = try_rasterise(svg), try_rasterise(decode(encoded.text, choice.spec).svg)
        if before is not None and after is not None:
            losses.append(pixel_l2(before, after))
    old = train_tokenizer(svgs, vocab_size=4096)
    before_tokens = [len(ids) for ids in encode_texts(old, svgs)]
    units = [*form_units(choice.spec), *sorted(units_of(forms))]
    new = train_tokenizer([folder.parent.name], vocab_size=256, units=units, openers=opening_units(units))
    after_tokens = [len(ids) for ids in encode_texts(new, forms)]
    losses.sort()
    return (
        f"set={folder.parent.name} icons={len(svgs)} converted={len(forms)} grid={choice.spec.grid} "
        f"view={choice.spec.view:g} l2_mean={statistics.fmean(losses):.5f} l2_p95={losses[int(0.95 * len(losses))]:.5f} "
        f"l2_max={losses[-1]:.4f} over_0.005={sum(x > 0.005 for x in losses) / len(losses):.3f} "
        f"chars_mean={statistics.fmean(len(s) for s in svgs):.0f} tokens_before={statistics.fmean(before_tokens):.1f} "
        f"tokens_form_v1={statistics.fmean(v1_units):.1f} tokens_after={statistics.fmean(after_tokens):.1f} "
        f"form_version={choice.spec.version} vocab={new.backend_tokenizer.get_vocab_size()} "
        f"failures={failures} seconds={time.perf_counter() - t0:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    for folder in parser.parse_args().folders:
        print(measure(folder), flush=True)


if __name__ == "__main__":
    main()
