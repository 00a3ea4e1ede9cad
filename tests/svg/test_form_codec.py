"""The model form: the round trip keeps the drawing, units are what the tokenizer expects, and what the form
cannot express is refused with a reason."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from svg_test_helpers import El, lucide_icons, svg_documents, write_svg

from core.svg import SvgError, clean_svg
from core.svg.compare import Raster, pixel_l2, rasterise, try_rasterise
from slm.form.decode import decode
from slm.form.encode import encode
from slm.form.grid import choose_grid
from slm.form.spec import ARC_COMMANDS, ELEMENT_UNITS, PATH_COMMANDS, FormSpec, ModelFormError, form_units
from tests.shared_fixtures import MDI_ICONS

MDI_DIR = MDI_ICONS
V1 = FormSpec(48, 24.0, version=1)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"{root}>{body}</svg>'


def round_trip_l2(svg: str, grid: int) -> float:
    spec = FormSpec(grid, 24.0)
    return pixel_l2(rasterise(svg), rasterise(decode(encode(svg, grid).text, spec).svg))


def _has_gradient(doc: El) -> bool:
    return any(child.tag == "defs" for child in doc.children)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(svg_documents(hostile=False), st.integers(0, 2**32 - 1))
def test_round_trip_keeps_the_rendering(doc: El, seed: int) -> None:
    """Any document the form can express renders the same after the round trip (flat paint only:
    gradients become their mean colour, so documents with them are left to the next test)."""
    assume(not _has_gradient(doc))
    # The form's canvas is square: a design of another aspect is centred on it, and what it draws outside
    # its own viewBox shows beside it (README). And resvg rasterises drawings a few units wide imprecisely:
    # the cases hypothesis found (a circle in a 1.14-wide viewBox, a triangle in a 1-wide one, a 1-wide
    # viewBox drawn at width="0.01") render 0.015-0.019 away from the same drawings scaled 100 times,
    # which the form's output matches within 0.00005. Neither says anything of the form's fidelity, so
    # the documents here are square and at least an icon's 24 units wide, and so is a width on the root.
    box = doc.attrs["viewBox"].values
    box[2] = box[3] = max(24.0, box[2])
    if "width" in doc.attrs:
        doc.attrs["width"].value = max(24.0, doc.attrs["width"].value)
    text = write_svg(doc, seed)
    try:
        original = clean_svg(text).svg
        encoded = encode(original, 512)
    except (SvgError, ModelFormError):
        return  # refused with a reason (text, for one): the next tests check the reasons
    before = try_rasterise(original)
    assume(before is not None)
    after = rasterise(decode(encoded.text, FormSpec(512, 512.0)).svg)
    assert pixel_l2(softened(before), softened(after)) <= 0.01, (original, encoded.text)


def test_an_edge_on_a_pixel_boundary_is_not_a_loss() -> None:
    """The case hypothesis found: the form keeps the triangle (as a 103-wide viewBox renders it), while
    the 1.03-wide original rasterises one column differently."""
    original = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1.03 1.03">'
        '<polygon points="0.51,-0.01 0,0 0,1.01"/></svg>'
    )
    after = rasterise(decode(encode(original, 512).text, FormSpec(512, 512.0)).svg)
    assert pixel_l2(rasterise(original), after) > 0.01  # the raw rasters differ by a column
    assert pixel_l2(softened(rasterise(original)), softened(after)) <= 0.01


def softened(raster: Raster) -> Raster:
    """The raster under a 3x3 box blur. resvg rasterises the same geometry differently at different
    viewBox scales where an edge lies exactly on a pixel boundary: a whole column of 64 px flips (L2
    0.0102 for a triangle along the left side of a 1.03-wide viewBox, 0 at 23.3 or 103 wide, and the
    form's 512 grid agrees with the latter). A one-pixel shift is not a loss of the drawing; blurred,
    it costs at most a third of that, while a wrong shape still costs its whole area."""
    import numpy as np

    padded = np.pad(raster.grey, 1, mode="edge")
    h, w = raster.grey.shape
    blurred = sum(padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0
    return Raster(blurred, raster.ink)


def test_icon_sets_round_trip_within_the_bar() -> None:
    """Real icons, stroke (Lucide) and fill (MDI): the grid the data chooses keeps them (L2 at 64 px)."""
    sets = [[clean_svg(p.read_bytes()).svg for p in lucide_icons(30)]]
    if MDI_DIR.is_dir():
        sets.append([clean_svg(p.read_bytes()).svg for p in sorted(MDI_DIR.glob("*.svg"))[::240]])
    for svgs in sets:
        choice = choose_grid(svgs)
        losses = [round_trip_l2(svg, choice.spec.grid) for svg in svgs]
        assert statistics.fmean(losses) <= 0.005 and max(losses) <= 0.05, (choice, losses)
        assert choice.spec.view == 24.0


def test_a_stroke_icon_is_short_and_every_unit_is_known() -> None:
    icon = SVG.format(
        root=' fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" '
        'class="lucide" width="24" height="24" id="x" data-name="a" aria-hidden="true"',
        body='<path d="M12 6v16"/><path d="m19 13 2-1a9 9 0 0 1-18 0l2 1"/><circle cx="12" cy="4" r="2"/>',
    )
    form = encode(icon, FormSpec(48, 24.0, version=1)).text
    assert form == (
        "fill:none stroke:#000000 sw:4 cap:round join:round <path M 24 12 V 44 M 38 26 L 42 24 R01 18 6 24 "
        "L 10 26 <circle 24 8 4"
    )
    assert set(form.split()) <= set(form_units(FormSpec(48, 24.0, version=1)))
    # Version 2: one unit a point, lines as bare points after a moveto, the moveto that opens a path bare.
    form = encode(icon, 48).text
    assert form == (
        "fill:none stroke:#000000 sw:4 cap:round join:round <path 24,12 24,44 M 38,26 42,24 R01 18 6,24 "
        "L 10,26 <circle 24,8 4"
    )
    known = set(form_units(48))
    assert all(u in known or "," in u for u in form.split())  # points: the vocabulary takes the set's own
    assert not any(word in form for word in ("class", "id", "width", "data", "aria", "currentColor"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Inherited paint and currentColor resolve; opacity composes.
        (
            '<g fill="red" opacity="0.5"><g style="color:#00f"><rect width="4" height="4" fill="currentColor"/></g></g>',
            "fill:#0000ff fop:0.5 <rect 0 0 8 8",
        ),
        # A stylesheet class beats the attribute, a style attribute beats both.
        (
            '<style>.a{fill:#ff0000}</style><rect class="a" fill="#00ff00" width="2" height="2"/>'
            '<rect class="a" style="fill:#0000ff" width="2" height="2"/>',
            "fill:#ff0000 <rect 0 0 4 4 fill:#0000ff <rect 0 0 4 4",
        ),
        # Transforms are applied: a translated, scaled circle; a rotated square becomes a path.
        ('<circle cx="1" cy="1" r="1" transform="translate(10 10) scale(2)"/>', "<circle 24 24 4"),
        ('<rect width="4" height="4" transform="rotate(90 12 12)"/>', "<path M 48 0 V 8 H 40 V 0 Z"),
        # <use> draws what it references, moved by x/y.
        ('<defs><circle id="c" cx="2" cy="2" r="1"/></defs><use href="#c" x="10"/>', "<circle 24 4 2"),
        # A gradient becomes its mean stop colour.
        (
            '<defs><linearGradient id="g"><stop offset="0" stop-color="#000"/><stop offset="1" stop-color="#fff"/>'
            '</linearGradient></defs><rect width="2" height="2" fill="url(#g)"/>',
            "fill:#808080 <rect 0 0 4 4",
        ),
    ],
)
def test_resolution(body: str, expected: str) -> None:
    assert encode(SVG.format(root="", body=body), V1).text == expected  # spelt in version 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<text x='1' y='10'>Hi</text>", "text is not supported"),
        (
            '<defs><mask id="m"><rect width="4" height="4" fill="#fff"/></mask></defs><rect width="9" height="9" mask="url(#m)"/>',
            "masks are not supported",
        ),
        (
            '<defs><clipPath id="c"><circle r="3"/></clipPath></defs><rect width="9" height="9" clip-path="url(#c)"/>',
            "clip paths are not supported",
        ),
        ('<rect width="10" height="10" fill="none"/>', "draws nothing"),
    ],
)
def test_what_the_form_cannot_express_is_refused_with_a_reason(body: str, reason: str) -> None:
    with pytest.raises(ModelFormError, match=reason):
        encode(SVG.format(root="", body=body), 48)


def test_a_clip_covering_the_canvas_changes_nothing() -> None:
    body = (
        '<defs><clipPath id="c"><rect width="24" height="24"/></clipPath></defs>'
        '<g clip-path="url(#c)"><rect width="2" height="2"/></g>'
    )
    assert encode(SVG.format(root="", body=body), 48).text == "<rect 0,0 4,4"


def test_decoding_a_models_output_is_lenient() -> None:
    spec = FormSpec(48, 24.0, version=1)
    out = decode(
        "fill:none stroke:#000000 sw:4 <path M 2 2 L 10 10 20 20 Q 1 <circle 24 24 <rect 0 0 8 8 bogus fill:#zz",
        spec,
    )
    assert out.elements == 2  # the path up to its last whole command, and the rect
    assert 'd="M1 1L5 5L10 10"' in out.svg
    assert any("circle" in d for d in out.dropped) and any("bogus" in d for d in out.dropped)
    assert any("fill:#zz" in d for d in out.dropped)
    clean_svg(out.svg)  # what it writes is clean SVG


def test_unit_families_are_disjoint() -> None:
    assert not set(ELEMENT_UNITS) & set(PATH_COMMANDS) and not set(PATH_COMMANDS) & set(ARC_COMMANDS)


@pytest.mark.parametrize(
    "body",
    [
        # radii far too small to join the ends: renderers scale them up to a half ellipse (SVG 1.1 F.6.6)
        '<path d="M0 0A0.01 0.02 0 0 0 0-20" fill="none" stroke="#000"/>',
        # SVG 2: a missing rx takes ry's value
        '<ellipse cx="12" cy="12" ry="6"/>',
    ],
)
def test_what_renderers_draw_by_svg_rules_survives_the_round_trip(body: str) -> None:
    svg = SVG.format(root="", body=body)
    after = rasterise(decode(encode(svg, 96).text, FormSpec(96, 24.0)).svg)
    assert float(after.grey.min()) < 0.5  # something is drawn
    assert pixel_l2(rasterise(svg), after) <= 0.005


def test_a_stroke_stretched_by_its_transform_is_refused_with_a_reason() -> None:
    line = '<polyline points="2,2 10,10" fill="none" stroke="#000" stroke-width="2"{t}/>'
    with pytest.raises(ModelFormError, match="stretches it 2.00:1"):
        encode(SVG.format(root="", body=line.format(t=' transform="scale(2 1)"')), 96)
    for fine in (' transform="scale(2)"', ' transform="rotate(30) scale(-1 1)"', ""):
        assert encode(SVG.format(root="", body=line.format(t=fine)), 96).elements == 1
    filled = '<rect width="4" height="4" transform="scale(2 1)"/>'  # no stroke: drawn exactly
    assert encode(SVG.format(root="", body=filled), 96).elements == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(svg_documents(hostile=False), st.integers(0, 2**32 - 1))
def test_version_2_draws_what_version_1_draws_in_fewer_units(doc: El, seed: int) -> None:
    """Form version 2 (a point a unit, implicit commands, straight runs joined) is the same drawing as
    version 1, never longer."""
    box = doc.attrs["viewBox"].values
    box[2] = box[3] = max(24.0, box[2])
    try:
        original = clean_svg(write_svg(doc, seed)).svg
        v1 = encode(original, FormSpec(96, 96.0, version=1))
    except (SvgError, ModelFormError):
        return
    v2 = encode(original, FormSpec(96, 96.0, version=2))
    assert v2.units <= v1.units and v2.elements == v1.elements
    one = decode(v1.text, FormSpec(96, 96.0, version=1))
    two = decode(v2.text, FormSpec(96, 96.0, version=2))
    assert two.elements == one.elements and not two.dropped
    assert pixel_l2(rasterise(one.svg), rasterise(two.svg)) <= 1e-4, (v1.text, v2.text)


def test_real_icons_in_version_2_are_the_same_drawings_in_about_half_the_units() -> None:
    svgs = [clean_svg(p.read_bytes()).svg for p in lucide_icons(20)]
    if MDI_DIR.is_dir():
        svgs += [clean_svg(p.read_bytes()).svg for p in sorted(MDI_DIR.glob("*.svg"))[::360]]
    v1_units = v2_units = 0
    for svg in svgs:
        one, two = FormSpec(48, 24.0, version=1), FormSpec(48, 24.0, version=2)
        a, b = encode(svg, one), encode(svg, two)
        v1_units, v2_units = v1_units + a.units, v2_units + b.units
        assert pixel_l2(rasterise(decode(a.text, one).svg), rasterise(decode(b.text, two).svg)) <= 1e-4
    assert v2_units <= 0.65 * v1_units, (v1_units, v2_units)


def test_a_model_keeps_the_form_version_it_was_trained_on() -> None:
    """A manifest written before versions were recorded is version 1, and still decodes as such."""
    old = FormSpec.from_dict({"kind": "model-form", "grid": 48, "view": 24.0})
    assert old == FormSpec(48, 24.0, version=1)
    assert 'd="M12 6V22"' in decode("fill:none stroke:#000000 sw:4 <path M 24 12 V 44", old).svg
    new = FormSpec.from_dict(FormSpec(48, 24.0).as_dict())
    assert new is not None and new.version == 2
    assert 'd="M12 6L12 22"' in decode("fill:none stroke:#000000 sw:4 <path 24,12 24,44", new).svg
    with pytest.raises(ValueError, match="version 9"):
        FormSpec.from_dict({"kind": "model-form", "version": 9, "grid": 48, "view": 24.0})


def test_decoding_version_2_is_lenient() -> None:
    out = decode(
        "<path 2,2 10,10 20,20 Q 1,1 <circle 24,24 <rect 0,0 8,8 bogus 3,4 fill:#zz", FormSpec(48, 24.0)
    )
    assert out.elements == 2  # the path up to its last whole command, and the rect
    assert 'd="M1 1L5 5L10 10"' in out.svg
    assert any("circle" in d for d in out.dropped) and any("bogus" in d for d in out.dropped)
    clean_svg(out.svg)


def test_version_2_joins_straight_runs_but_keeps_a_line_that_turns_back() -> None:
    on = '<path d="M1 1H6H11V6M1 11L6 11L3 11" fill="none" stroke="#000"/>'
    assert encode(SVG.format(root="", body=on), 24).text.endswith("<path 1,1 11,1 11,6 M 1,11 6,11 3,11")
    svg = SVG.format(root="", body=on)
    after = decode(encode(svg, 24).text, FormSpec(24, 24.0)).svg
    assert pixel_l2(rasterise(svg), rasterise(after)) <= 1e-4


def test_training_examples_are_written_in_the_models_form_version() -> None:
    """Fine-tuning a version-1 model goes on writing version 1 (its tokenizer and manifest expect it)."""
    from slm.train.config import TrainExample
    from slm.train.data import to_forms

    examples = [TrainExample("a square", SVG.format(root="", body='<rect width="4" height="4"/>'))]
    assert to_forms(examples, V1)[0][0].svg == "<rect 0 0 8 8"
    assert to_forms(examples, FormSpec(48, 24.0))[0][0].svg == "<rect 0,0 8,8"
