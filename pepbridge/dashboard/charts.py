"""Stacked bar charts drawn as inline SVG on the server: no JavaScript, nothing from a CDN."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from pepbridge.dashboard.selectors import HourBucket

BAR_AREA_HEIGHT = 140
BAR_WIDTH = 22
BAR_GAP = 6
AXIS_WIDTH = 34  # room on the left for the y-axis labels
TOP_MARGIN = 12  # room above the busiest bar for its value


@dataclass(frozen=True)
class Segment:
    series: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: int
    label: str
    title: str
    segments: list[Segment]
    total: int
    top: float  # y of the bar's top, where its value is written


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    peak: int
    series: tuple[str, ...]
    bars: list[Bar]
    ticks: list[Tick]
    axis_x: int
    baseline: int


def stacked_chart(buckets: list[HourBucket], series: tuple[str, ...]) -> Chart:
    """Lay out one bar per hour, its series stacked bottom-up, scaled to the busiest hour."""
    peak = max((bucket.total for bucket in buckets), default=0) or 1
    bars = [_bar(index, bucket, series, peak) for index, bucket in enumerate(buckets)]
    width = AXIS_WIDTH + len(buckets) * (BAR_WIDTH + BAR_GAP)
    baseline = TOP_MARGIN + BAR_AREA_HEIGHT
    return Chart(
        width=width,
        height=baseline + 16,
        peak=peak,
        series=series,
        bars=bars,
        ticks=_ticks(peak),
        axis_x=AXIS_WIDTH - 4,
        baseline=baseline,
    )


def _ticks(peak: int) -> list[Tick]:
    """Gridlines at 0, half the peak and the peak (whole numbers, no repeats)."""
    values = sorted({0, peak // 2, peak}) if peak > 1 else [0, peak]
    return [
        Tick(y=round(TOP_MARGIN + BAR_AREA_HEIGHT * (1 - value / peak), 2), label=str(value))
        for value in values
    ]


def _bar(index: int, bucket: HourBucket, series: tuple[str, ...], peak: int) -> Bar:
    segments = []
    top = float(TOP_MARGIN + BAR_AREA_HEIGHT)
    for name in series:
        count = bucket.counts.get(name, 0)
        height = BAR_AREA_HEIGHT * count / peak
        top -= height
        segments.append(Segment(series=name, count=count, y=round(top, 2), height=round(height, 2)))
    hour = timezone.localtime(bucket.hour)
    detail = ", ".join(f"{name} {bucket.counts.get(name, 0)}" for name in series)
    return Bar(
        x=AXIS_WIDTH + index * (BAR_WIDTH + BAR_GAP),
        label=f"{hour:%H}",
        title=f"{hour:%Y-%m-%d %H:00 %Z}: {detail}",
        segments=segments,
        total=bucket.total,
        top=round(top, 2),
    )
