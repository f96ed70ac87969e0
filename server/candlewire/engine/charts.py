"""Series a strategy draws with the chart helpers, recorded per bar (only when charts are on)."""

from __future__ import annotations


class RouteCharts:
    def __init__(self):
        self._lines: dict[str, dict] = {}
        self._extra: dict[tuple[str, str], dict] = {}
        self._horizontal: dict[tuple[str | None, str], dict] = {}

    def add_line(self, title, time_ms, value, color) -> None:
        series = self._lines.setdefault(title, {"title": title, "color": color, "timestamps_ms": [], "values": []})
        series["timestamps_ms"].append(time_ms)
        series["values"].append(float(value))

    def add_extra_line(self, chart, title, time_ms, value, color) -> None:
        series = self._extra.setdefault(
            (chart, title), {"chart": chart, "title": title, "color": color, "timestamps_ms": [], "values": []}
        )
        series["timestamps_ms"].append(time_ms)
        series["values"].append(float(value))

    def add_horizontal_line(self, chart, title, value, color, line_width, line_style) -> None:
        # A horizontal line is a level, not a series: the latest value drawn wins.
        self._horizontal[(chart, title)] = {
            "chart": chart, "title": title, "value": float(value), "color": color,
            "line_width": line_width, "line_style": line_style,
        }

    def to_dict(self, route_index: int) -> dict:
        return {
            "route": route_index,
            "lines": list(self._lines.values()),
            "extra_charts": list(self._extra.values()),
            "horizontal_lines": list(self._horizontal.values()),
        }
