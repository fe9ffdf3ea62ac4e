"""Stacked bar charts drawn as inline SVG on the server: no JavaScript, nothing from a CDN."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from pepbridge.backoffice.selectors import HourBucket

BAR_AREA_HEIGHT = 140
BAR_WIDTH = 22
BAR_GAP = 6


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


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    peak: int
    series: tuple[str, ...]
    bars: list[Bar]


def stacked_chart(buckets: list[HourBucket], series: tuple[str, ...]) -> Chart:
    """Lay out one bar per hour, its series stacked bottom-up, scaled to the busiest hour."""
    peak = max((bucket.total for bucket in buckets), default=0) or 1
    bars = [_bar(index, bucket, series, peak) for index, bucket in enumerate(buckets)]
    width = len(buckets) * (BAR_WIDTH + BAR_GAP)
    return Chart(width=width, height=BAR_AREA_HEIGHT + 16, peak=peak, series=series, bars=bars)


def _bar(index: int, bucket: HourBucket, series: tuple[str, ...], peak: int) -> Bar:
    segments = []
    top = float(BAR_AREA_HEIGHT)
    for name in series:
        count = bucket.counts.get(name, 0)
        height = BAR_AREA_HEIGHT * count / peak
        top -= height
        segments.append(Segment(series=name, count=count, y=round(top, 2), height=round(height, 2)))
    hour = timezone.localtime(bucket.hour)
    detail = ", ".join(f"{name} {bucket.counts.get(name, 0)}" for name in series)
    return Bar(
        x=index * (BAR_WIDTH + BAR_GAP),
        label=f"{hour:%H}",
        title=f"{hour:%Y-%m-%d %H:00}: {detail}",
        segments=segments,
    )
