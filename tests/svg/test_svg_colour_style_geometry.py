"""core.svg's one colour parser, one reading of style declarations, and the geometry adherence uses."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from core.svg.colour import hex_colour, nearest_colour, normalise_colour, parse_colour
from core.svg.geometry import outline, parse_transform, path_outline, transform_points
from core.svg.style import local_name, parse_style, presentation


@pytest.mark.parametrize(
    ("value", "rgb"),
    [
        ("#e53935", (229, 57, 53)),
        ("#ABC", (170, 187, 204)),
        ("#abcd", (170, 187, 204)),  # alpha ignored
        ("#11223344", (17, 34, 51)),
        ("rgb(1, 2, 3)", (1, 2, 3)),
        ("rgba(1 2 3 / 50%)", (1, 2, 3)),
        ("rgb(100%,0%,0%)", (255, 0, 0)),
        ("Red", (255, 0, 0)),
        ("rebeccapurple", (102, 51, 153)),  # any CSS name, not a hand-kept few
        ("hsl(0, 100%, 50%)", (255, 0, 0)),
    ],
)
def test_every_way_of_writing_a_colour_reads_the_same(value, rgb):
    assert parse_colour(value) == rgb


@pytest.mark.parametrize(
    "value", [None, "", "none", "transparent", "currentColor", "inherit", "url(#g)", "#12"]
)
def test_what_is_no_colour_reads_as_none(value):
    assert parse_colour(value) is None


def test_normalised_colours_compare_however_they_were_written():
    assert (
        normalise_colour("#F00") == normalise_colour("red") == normalise_colour("rgb(255,0,0)") == "#ff0000"
    )
    assert normalise_colour(" currentColor ") == "currentcolor"
    assert hex_colour((1, 2, 255)) == "#0102ff"


def test_nearest_colour_of_a_palette():
    palette = [(0, 0, 0), (255, 255, 255), (229, 57, 53)]
    assert nearest_colour((250, 10, 10), palette) == (229, 57, 53)
    assert nearest_colour((240, 240, 240), palette) == (255, 255, 255)


def test_style_declarations_override_attributes():
    assert parse_style(" Fill : red ;stroke-width:2;; bogus ; x:") == {"fill": "red", "stroke-width": "2"}
    el = ET.fromstring(
        '<rect xmlns="http://www.w3.org/2000/svg" fill="blue" stroke="black" style="fill:red"/>'
    )
    assert presentation(el) == {"fill": "red", "stroke": "black"}
    assert local_name(el.tag) == "rect" and local_name(ET.Comment) == ""


def test_transforms_compose_left_to_right():
    m = parse_transform("translate(10 20) scale(2)")
    assert transform_points(m, [(1, 1)]) == [(12.0, 22.0)]
    ((x, y),) = transform_points(parse_transform("rotate(90 5 5)"), [(10, 5)])
    assert math.isclose(x, 5, abs_tol=1e-9) and math.isclose(y, 10, abs_tol=1e-9)


def test_outlines_of_shapes_and_paths():
    circle = outline(ET.fromstring('<circle cx="10" cy="10" r="5"/>'))
    assert circle is not None and circle.curved and circle.points == [(5, 5), (15, 15)]
    assert outline(ET.fromstring('<circle r="0"/>')) is None
    rect = outline(ET.fromstring('<rect x="1" y="2" width="3" height="4"/>'))
    assert rect is not None and not rect.curved and len(rect.vertices) == 4
    triangle = path_outline("M0 0 L10 0 L5 8 Z")
    assert triangle.vertices == [(0, 0), (10, 0), (5, 8)] and not triangle.curved
    arc = path_outline("M0 10 A10 10 0 0 1 20 10")  # a half circle above y=10
    ys = [p[1] for p in arc.points]
    assert arc.curved and min(ys) == pytest.approx(0, abs=0.1)
    assert path_outline("not path data").points == []
