"""Paint as the renderer resolves it: stylesheet rules, the cascade of presentation attributes,
currentColor, opacity, gradients (their mean stop colour), written as the form's canonical Paint."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from core.svg.colour import hex_colour, paint_alpha, parse_colour
from core.svg.inherit import PROPERTIES, computed, opacity_of, resolve_current_colour
from core.svg.style import local_name, parse_style
from slm.form.spec import (
    FILL_KEYS,
    KEYWORDS,
    PAINT_KEYS,
    STROKE_KEYS,
    ModelFormError,
    Paint,
    length,
    short,
    tenths,
    to_int,
)

URL_RE = re.compile(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)(?:\s+(.+))?")
_SIMPLE_SELECTOR = re.compile(r"\*|[A-Za-z][\w-]*|[A-Za-z][\w-]*\.[\w-]+|\.[\w-]+|#[\w-]+")
_RULE_RE = re.compile(r"([^{}]+)\{([^{}]*)\}")


class Styles:
    """What paint resolution needs of one document: its ids, its stylesheet, its scale onto the grid."""

    def __init__(self, root: ET.Element, scale: float) -> None:
        self.by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
        self.rules = Stylesheet(root)
        self.scale = scale

    def own(self, el: ET.Element, tag: str) -> dict[str, str]:
        props = {k: v.strip() for k, v in el.attrib.items() if k in PROPERTIES}
        for decls in self.rules.matching(el, tag):  # a stylesheet beats presentation attributes
            props.update({k: v for k, v in decls.items() if k in PROPERTIES})
        props.update({k: v for k, v in parse_style(el.get("style")).items() if k in PROPERTIES})
        return props

    def cascade(self, inherited: dict[str, str], el: ET.Element, tag: str) -> dict[str, str]:
        own = self.own(el, tag)
        props = computed(inherited, own)
        # Opacity is not inherited, but it composes down the tree: carry the product.
        props["_opacity"] = str(opacity_of(inherited.get("_opacity")) * opacity_of(own.get("opacity")))
        return props

    def colour(self, value: str, props: dict[str, str]) -> tuple[str, float]:
        """(#rrggbb or "none", alpha) of a paint value."""
        v = value.strip()
        if v.lower() in ("none", "transparent"):
            return "none", 1.0
        v = resolve_current_colour(v, props)
        if m := URL_RE.fullmatch(v):
            target = self.by_id.get(m.group(1))
            if target is not None and local_name(target.tag) in ("linearGradient", "radialGradient"):
                return self._gradient(target)
            if m.group(2):
                return self.colour(m.group(2), props)
            raise ModelFormError(f"paint {value!r} is neither a colour nor a gradient")
        rgb = parse_colour(v)
        if rgb is None:
            raise ModelFormError(f"paint {value!r} is not a colour")
        return hex_colour(rgb), paint_alpha(v)

    def _gradient(self, grad: ET.Element) -> tuple[str, float]:
        """The mean colour and opacity of a gradient's stops (following href to inherited stops)."""
        for _ in range(8):
            if any(local_name(s.tag) == "stop" for s in grad):
                break
            href = grad.get("href") or ""
            nxt = self.by_id.get(href[1:]) if href.startswith("#") else None
            if nxt is None:
                break
            grad = nxt
        stops = []
        for stop in grad:
            if local_name(stop.tag) != "stop":
                continue
            decls = {**stop.attrib, **parse_style(stop.get("style"))}
            colour = decls.get("stop-color", "black")
            rgb = parse_colour(colour)
            if rgb is not None:
                stops.append((rgb, paint_alpha(colour) * opacity_of(decls.get("stop-opacity"))))
        if not stops:
            return "none", 1.0
        mean = tuple(round(sum(s[0][i] for s in stops) / len(stops)) for i in range(3))
        return hex_colour(mean), sum(s[1] for s in stops) / len(stops)  # type: ignore[arg-type]

    def paint_of(self, props: dict[str, str], stretch: float) -> Paint:
        opacity = opacity_of(props.get("_opacity"))
        fill, fill_alpha = self.colour(props.get("fill", "black"), props)
        stroke, stroke_alpha = self.colour(props.get("stroke", "none"), props)
        fop = opacity_of(props.get("fill-opacity")) * opacity * fill_alpha
        sop = opacity_of(props.get("stroke-opacity")) * opacity * stroke_alpha
        fill = fill if fop >= 0.05 else "none"
        stroke = stroke if sop >= 0.05 else "none"
        paint = {"fill": fill, "stroke": stroke}
        if fill != "none":
            paint["fop"] = tenths(fop)
            paint["rule"] = keyword("rule", props.get("fill-rule"))
        if stroke != "none":
            width = length(props.get("stroke-width", "1"))
            if width is None:
                raise ModelFormError(f"stroke-width {props.get('stroke-width')!r} is not a plain length")
            grid_width = width * stretch * self.scale
            if grid_width <= 0:
                paint["stroke"] = "none"
            else:
                paint["sw"] = short(max(0.5, to_int(grid_width * 2, "a stroke width") / 2))
                paint["cap"] = keyword("cap", props.get("stroke-linecap"))
                paint["join"] = keyword("join", props.get("stroke-linejoin"))
                paint["sop"] = tenths(sop)
                paint["dash"] = self._dash(props.get("stroke-dasharray"), stretch)
        return Paint(**paint)

    def _dash(self, value: str | None, stretch: float) -> str:
        if value is None or value.strip() in ("none", ""):
            return "none"
        lengths = [length(t) for t in re.split(r"[\s,]+", value.strip()) if t]
        if any(v is None or v < 0 for v in lengths):
            raise ModelFormError(f"stroke-dasharray {value!r} is not a list of lengths")
        grid = [to_int(v * stretch * self.scale, "a dash") for v in lengths if v is not None]
        return ",".join(map(str, grid)) if any(grid) else "none"

    # tree -------------------------------------------------------------------------------------------


def keyword(key: str, value: str | None) -> str:
    allowed = KEYWORDS[key]
    v = (value or allowed[0]).strip().lower()
    return (
        {"miter-clip": "miter", "arcs": "miter"}.get(v, v)
        if v in (*allowed, "miter-clip", "arcs")
        else allowed[0]
    )


def relevant(paint: Paint, previous: Paint) -> Paint:
    """Keys that do not apply to this element keep the previous values, so they are not written."""
    keep = set()
    if not paint.stroked:
        keep |= STROKE_KEYS
    if paint.fill == "none":
        keep |= FILL_KEYS
    if not keep:
        return paint
    return Paint(**{k: getattr(previous if k in keep else paint, k) for k in PAINT_KEYS})


# Rules tried against elements, summed over a document: far above any icon's (a few hundred), far below
# what makes one encode take seconds (30,000 rules each tried on 10,000 elements took minutes).
MAX_STYLE_WORK = 200_000


class Stylesheet:
    """Rules of <style> elements with simple selectors (`*`, `tag`, `.class`, `tag.class`, `#id`), indexed
    by what they name, so an element is tried only against rules that can match it."""

    def __init__(self, root: ET.Element) -> None:
        self.index: dict[str, list[tuple[int, str, dict[str, str]]]] = {}
        self.work = 0
        order = 0
        for el in root.iter():
            if local_name(el.tag) != "style" or not el.text:
                continue
            for selectors, body in _RULE_RE.findall(el.text):
                decls = {k: v.replace("!important", "").strip() for k, v in parse_style(body).items()}
                for selector in (s.strip() for s in selectors.split(",")):
                    if not _SIMPLE_SELECTOR.fullmatch(selector):
                        raise ModelFormError(f"the CSS selector {selector!r} is not supported")
                    self.index.setdefault(_key(selector), []).append((order, selector, decls))
                    order += 1

    def matching(self, el: ET.Element, tag: str) -> list[dict[str, str]]:
        """Declarations of the rules that match `el`, in stylesheet order (later ones win)."""
        if not self.index:
            return []
        keys = ["*", tag, *(f".{c}" for c in (el.get("class") or "").split())]
        if el.get("id"):
            keys.append(f"#{el.get('id')}")
        found = [rule for k in dict.fromkeys(keys) for rule in self.index.get(k, ())]
        self.work += len(found) + 1
        if self.work > MAX_STYLE_WORK:
            raise ModelFormError(f"its stylesheet takes more than {MAX_STYLE_WORK} rule matches to apply")
        return [
            decls for _, selector, decls in sorted(found, key=lambda r: r[0]) if _matches(selector, tag, el)
        ]


def _key(selector: str) -> str:
    """The index entry a selector is filed under: what an element must have for it to match."""
    if selector in ("*",) or selector[0] in ".#":
        return selector
    name, _, cls = selector.partition(".")
    return f".{cls}" if cls else name


def _matches(selector: str, tag: str, el: ET.Element) -> bool:
    if selector == "*":
        return True
    if selector.startswith("#"):
        return el.get("id") == selector[1:]
    classes = (el.get("class") or "").split()
    if selector.startswith("."):
        return selector[1:] in classes
    name, _, cls = selector.partition(".")
    return name == tag and (not cls or cls in classes)
