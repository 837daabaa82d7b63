"""A grid as a PNG for vision models: ARC palette, cell borders, the shape in a caption.

Drawn with Pillow (already installed as matplotlib's dependency) straight from the cells, so
one image takes well under a millisecond for small grids and never starts a figure.
"""

from __future__ import annotations

import base64
import io

from arcnb.grid import Grid, grid_shape
from arcnb.tasks import ARC_PALETTE

CELL_PX = 16  # side of one cell, border included; a 30x30 grid is 481 px wide
BORDER_PX = 1  # the line between cells (and around the grid)
BORDER_RGB = (85, 85, 85)  # grey: visible against black (0) and against every colour
CAPTION_PX = 14  # height of the caption strip above the grid
BACKGROUND_RGB = (255, 255, 255)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


PALETTE_RGB = [_rgb(c) for c in ARC_PALETTE]


def cell_centre(row: int, col: int) -> tuple[int, int]:
    """The pixel ``(x, y)`` at the centre of a cell in `grid_png`'s image."""
    return (
        BORDER_PX + col * CELL_PX + CELL_PX // 2,
        CAPTION_PX + BORDER_PX + row * CELL_PX + CELL_PX // 2,
    )


def grid_png(grid: Grid, caption: str) -> bytes:
    """Draw a grid as a PNG.

    Args:
        grid: A valid grid (colours 0-9).
        caption: Written above the grid, e.g. ``"Input 1 (3x4)"``.

    Returns:
        The PNG file's bytes: ``CAPTION_PX`` of caption, then ``CELL_PX`` pixels a cell with
        ``BORDER_PX`` grey lines between cells and around the grid (at least as wide as the
        caption needs).
    """
    from PIL import Image, ImageDraw

    rows, cols = grid_shape(grid)
    grid_w = cols * CELL_PX + BORDER_PX
    width = max(grid_w, 6 * len(caption) + 4)  # Pillow's default font: about 6 px a character
    image = Image.new("RGB", (width, CAPTION_PX + rows * CELL_PX + BORDER_PX), BACKGROUND_RGB)
    draw = ImageDraw.Draw(image)
    draw.text((2, 1), caption, fill=(0, 0, 0))
    top = CAPTION_PX
    draw.rectangle((0, top, grid_w - 1, top + rows * CELL_PX), fill=BORDER_RGB)
    for r, row in enumerate(grid):
        for c, colour in enumerate(row):
            x, y = BORDER_PX + c * CELL_PX, top + BORDER_PX + r * CELL_PX
            draw.rectangle(
                (x, y, x + CELL_PX - BORDER_PX - 1, y + CELL_PX - BORDER_PX - 1),
                fill=PALETTE_RGB[colour],
            )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def image_part(grid: Grid, caption: str) -> dict:
    """An OpenAI chat content part holding `grid_png` as a base64 data URL."""
    data = base64.b64encode(grid_png(grid, caption)).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}
