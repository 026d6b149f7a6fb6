"""Pictures for clinicians: a symptom chart by day and a strip of photos (matplotlib, PNG).

matplotlib is imported when a picture is drawn, not at start-up, to keep the bot quick to
start.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from bot.services.ports import PhotoTile, SymptomSeries

SEVERITY_TICKS = ["none", "mild", "moderate", "severe", "very severe"]


class MatplotlibCharts:
    """Draws timeline pictures as PNG bytes."""

    def severity(self, title: str, series: Sequence[SymptomSeries], last_day: int) -> bytes:
        """One row per symptom: severity by day since the session, normal window shaded."""
        plt = _pyplot()
        rows = max(1, len(series))
        fig, axes = plt.subplots(rows, 1, figsize=(8, 1.6 * rows + 1), sharex=True, squeeze=False)
        span = max(last_day, 14) + 1
        for ax, s in zip(axes[:, 0], series, strict=False):
            if s.window is not None:
                first, last = s.window
                ax.axvspan(first - 0.5, last + 0.5, color="#c8e6c9", alpha=0.6, lw=0)
                ax.text(last + 0.6, 3.6, "normal course", fontsize=7, color="#2e7d32", va="top")
            days = [d for d, _ in s.points]
            grades = [g for _, g in s.points]
            ax.plot(days, grades, marker="o", color="#c62828", lw=1.8)
            for d, g in s.points:
                if g >= 3:
                    ax.annotate("severe", (d, g), textcoords="offset points", xytext=(0, 6),
                                ha="center", fontsize=7, color="#c62828")
            ax.set_ylim(-0.3, 4.3)
            ax.set_yticks(range(5), SEVERITY_TICKS, fontsize=7)
            ax.set_ylabel(s.label, rotation=0, ha="right", va="center", fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        if not series:
            axes[0, 0].text(0.5, 0.5, "no symptom reported", ha="center", va="center",
                            transform=axes[0, 0].transAxes)
        axes[-1, 0].set_xlim(-0.5, span)
        axes[-1, 0].set_xlabel("days since the session")
        return _png(plt, fig, title, dpi=110)

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


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (no screen on a server)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    return pyplot


def _png(plt: Any, fig: Any, title: str, *, dpi: int) -> bytes:
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi)
    plt.close(fig)
    return out.getvalue()
