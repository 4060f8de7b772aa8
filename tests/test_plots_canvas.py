"""plots.png: its own PNG encoding and its faster text canvas (designspace.agg_canvas) give exactly the
pixels matplotlib's own savefig gives."""
import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from designspace import plots
from designspace.agg_canvas import Canvas


def _figure(transparent=False):
    fig = Figure(figsize=(5.0, 3.2))
    if transparent:
        fig.patch.set_alpha(0.0)
    ax = fig.subplots()
    ax.plot([1, 2, 3], [3, 1, 2], "o-", label="AnyNetXA (n=12)")
    ax.set_title("fit on best, r² = 0.16; ρ = 0.42", fontsize=10.5)
    ax.set_xlabel("e_fit (mean |log w_j / ŵ_j|)")
    ax.set_ylabel("error (%)")  # rotated text
    ax.text(1.5, 2.5, r"$w_j = 48 (j + 1)^2$", fontsize=8)  # mathtext: glyphs of several sizes
    ax.legend(fontsize=7)
    return fig


def _pixels(png_bytes):
    return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGBA"))


def _matplotlib_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    return buf.getvalue()


def test_png_has_matplotlibs_pixels_opaque_and_transparent():
    for transparent in (False, True):
        ours = plots.png(_figure(transparent))
        assert ours[:8] == b"\x89PNG\r\n\x1a\n"
        image = Image.open(io.BytesIO(ours))
        assert image.mode == ("RGBA" if transparent else "RGB")
        assert round(image.info["dpi"][0]) == 150 and image.size == (750, 480)
        assert np.array_equal(_pixels(ours), _pixels(_matplotlib_png(_figure(transparent))))


def test_canvas_draws_text_as_matplotlib_does():
    stock = _figure()
    fast = _figure()
    Canvas(fast)
    a, b = io.BytesIO(), io.BytesIO()
    stock.savefig(a, format="rgba", dpi=150)
    fast.savefig(b, format="rgba", dpi=150)
    assert type(fast.canvas) is Canvas and type(fast.canvas.get_renderer()).__name__ == "_Renderer"
    assert a.getvalue() == b.getvalue()
