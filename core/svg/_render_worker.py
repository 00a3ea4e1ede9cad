"""Render worker process for core.svg.render_pool (run as a script, never imported by the app).

Why a separate process: resvg aborts the whole process when an allocation fails (e.g. a huge canvas) and a
render cannot be interrupted from Python. Here a crash or a hang costs only this process, which the
parent kills and replaces. The address-space limit turns runaway allocations into a quick death.

Protocol on stdin/stdout, one request at a time:
  request:  4-byte big-endian length + JSON {"svg", "width", "height", "background", "skip_fonts", "fonts"}
  response: 1 status byte (0 = PNG follows, 1 = error message follows) + 4-byte length + payload
"""

from __future__ import annotations

import json
import os
import struct
import sys


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> None:
    memory_limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    niceness = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if niceness > 0:
        os.nice(niceness)  # background renders give way to the model and to requests being answered
    if memory_limit > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    # Keep the protocol channel private: anything else written to stdout goes to stderr instead.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    in_fd = sys.stdin.fileno()

    import resvg_py

    while True:
        header = _read_exact(in_fd, 4)
        if header is None:
            return  # parent closed the pipe (or died)
        body = _read_exact(in_fd, struct.unpack(">I", header)[0])
        if body is None:
            return
        try:
            req = json.loads(body)
            fonts = req.get("fonts") or {}
            png = bytes(
                resvg_py.svg_to_bytes(
                    svg_string=req["svg"],
                    width=req["width"],
                    height=req["height"],
                    background=req.get("background"),
                    skip_system_fonts=bool(req.get("skip_fonts")),
                    font_family=fonts.get("default"),
                    serif_family=fonts.get("serif"),
                    sans_serif_family=fonts.get("sans_serif"),
                    monospace_family=fonts.get("monospace"),
                )
            )
            status, payload = 0, png
        except Exception as exc:  # report, keep serving: a bad SVG is not a broken worker
            status, payload = 1, str(exc).encode("utf-8", "replace")[:2000]
        _write_all(out_fd, struct.pack(">BI", status, len(payload)) + payload)


if __name__ == "__main__":
    main()
