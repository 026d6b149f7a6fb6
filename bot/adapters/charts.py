"""Pictures for clinicians: a symptom chart by day and a strip of photos (matplotlib, PNG).

matplotlib is imported when a picture is drawn, not at start-up, to keep the bot quick to
start.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bot.services.ports import ChartMark, PhotoTile, SymptomSeries

SEVERITY_TICKS = ["none", "mild", "moderate", "severe", "very severe"]
MARK_COLOURS = {"emergency": "#b71c1c", "urgent": "#ef6c00", "routine": "#f9a825"}


class MatplotlibCharts:
    """Draws timeline pictures as PNG bytes."""

    def severity(
        self, title: str, series: Sequence[SymptomSeries], span: int,
        marks: Sequence[ChartMark] = (),
    ) -> bytes:
        """One row per symptom: every grade as reported by day since the session (a hollow
        mark where none was given), the normal window shaded, red flags and escalations as
        lines across every row, days 0 to `span`."""
        plt = _pyplot()
        rows = max(1, len(series))
        fig, axes = plt.subplots(rows, 1, figsize=(8, 1.6 * rows + 1), sharex=True, squeeze=False)
        for ax, s in zip(axes[:, 0], series, strict=False):
            _symptom_row(ax, s)
        for ax in axes[:, 0]:
            for mark in marks:
                ax.axvline(mark.day, color=MARK_COLOURS.get(mark.level, "#555"), lw=1.2,
                           ls="--", alpha=0.8)
        for mark in marks:  # labelled once, on the top row
            axes[0, 0].annotate(mark.label, (mark.day, 4.3), fontsize=6, rotation=90,
                                va="top", ha="right", color=MARK_COLOURS.get(mark.level, "#555"))
        if not series:
            axes[0, 0].text(0.5, 0.5, "no symptom reported", ha="center", va="center",
                            transform=axes[0, 0].transAxes)
        axes[-1, 0].set_xlim(-0.5, span + 0.5)
        axes[-1, 0].set_xlabel("days since the session")
        data = {"span": span, "series": [asdict(s) for s in series],
                "marks": [asdict(m) for m in marks]}
        return _png(plt, fig, title, dpi=110, data=data)

    def photos(self, title: str, tiles: Sequence[PhotoTile]) -> bytes:
        """The patient's photos side by side, each labelled with its day."""
        from PIL import Image  # noqa: PLC0415

        plt = _pyplot()

        columns = min(4, max(1, len(tiles)))
        rows = (len(tiles) + columns - 1) // columns
        fig, axes = plt.subplots(
            rows, columns, figsize=(3 * columns, 3 * rows + 0.6), squeeze=False
        )
        for ax in axes.flat:
            ax.axis("off")
        for ax, tile in zip(axes.flat, tiles, strict=False):
            try:
                image = Image.open(io.BytesIO(tile.data))
                image.thumbnail((600, 600))
                ax.imshow(image)
            except (OSError, ValueError):
                ax.text(0.5, 0.5, "unreadable image", ha="center", va="center")
            ax.set_title(f"day {tile.day}", fontsize=10)
        return _png(plt, fig, title, dpi=100)


def _symptom_row(ax: Any, s: SymptomSeries) -> None:
    if s.window is not None:
        first, last = s.window
        ax.axvspan(first - 0.5, last + 0.5, color="#c8e6c9", alpha=0.6, lw=0)
        ax.text(last + 0.6, 3.6, "normal course", fontsize=7, color="#2e7d32", va="top")
    graded = [(d, g) for d, g in s.points if g is not None]
    ax.plot([d for d, _ in graded], [g for _, g in graded], marker="o", color="#c62828",
            lw=1.8)
    ungraded = [d for d, g in s.points if g is None]
    if ungraded:  # reported, no grade given: drawn as such, not as "mild"
        ax.scatter(ungraded, [2] * len(ungraded), marker="o", facecolors="none",
                   edgecolors="#c62828", zorder=3)
        for d in ungraded:
            ax.annotate("no grade", (d, 2), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7, color="#c62828")
    for d, g in graded:
        if g >= 3:
            ax.annotate(SEVERITY_TICKS[g], (d, g), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7, color="#c62828")
    ax.set_ylim(-0.3, 4.3)
    ax.set_yticks(range(5), SEVERITY_TICKS, fontsize=7)
    ax.set_ylabel(s.label, rotation=0, ha="right", va="center", fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (no screen on a server)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    return pyplot


def _png(
    plt: Any, fig: Any, title: str, *, dpi: int, data: dict[str, Any] | None = None
) -> bytes:
    """The figure as PNG; `data`, the numbers drawn, as its "aftercare" text chunk, so what
    a chart says can be checked without reading pixels."""
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = io.BytesIO()
    metadata = {"aftercare": json.dumps(data, ensure_ascii=False)} if data is not None else None
    fig.savefig(out, format="png", dpi=dpi, metadata=metadata)
    plt.close(fig)
    return out.getvalue()
