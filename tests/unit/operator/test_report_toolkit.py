"""The report toolkit holds the bar every job report must meet, once: empty columns and
comparisons say why, charts have labelled axes and draw something, periods read as dates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from web.jobs.params import JobError, JobParams, measure_compared
from web.jobs.report import Report, new_figure


def _page(rep: Report, tmp_path: Path) -> str:
    page, _ = rep.write(tmp_path / "r.html")
    return page.read_text()


def test_a_column_without_values_is_left_out_and_says_why(tmp_path: Path) -> None:
    rep = Report("t")
    rep.table(
        ["route", "scheduled min", "median min", "late"],
        [["80", None, 12.5, "-"], ["A", float("nan"), 20.0, "-"]],
        why_blank={"scheduled min": "no timetable time in the history"},
    )
    page = _page(rep, tmp_path)
    assert "<th>median min</th>" in page
    assert "<th>scheduled min</th>" not in page
    assert "<th>late</th>" not in page
    assert "Not shown, empty here: scheduled min (no timetable time in the history)." in page
    assert "Not shown, empty here: late (no value in this period)." in page


def test_a_chart_must_draw_something_with_both_axes_labelled(tmp_path: Path) -> None:
    rep = Report("t")
    fig, ax = new_figure()
    with pytest.raises(ValueError, match="draws nothing"):
        rep.figure(fig, "empty")  # the 0-1 axes of an empty chart
    fig, ax = new_figure()
    ax.plot([0, 1], [2, 3])
    ax.set_xlabel("local hour (America/Chicago)")
    with pytest.raises(ValueError, match="without a label"):
        rep.figure(fig, "unlabelled")
    fig, ax = new_figure()
    ax.plot([0, 1], [2, 3])
    ax.set_xlabel("local hour (America/Chicago)")
    ax.set_ylabel("minutes")
    rep.figure(fig, "run time")
    assert 'alt="run time (x: local hour (America/Chicago); y: minutes)"' in _page(rep, tmp_path)


def test_a_comparison_says_why_it_is_empty(tmp_path: Path) -> None:
    rep = Report("t")
    rep.comparison("2025-09-01 (1 day, UTC)", [], [], tmp_path / "c.csv", why_none="no data")
    rep.comparison(
        "2025-09-02 (1 day, UTC)",
        ["route", "now", "before", "change"],
        [["80", 1.0, None, None]],
        tmp_path / "d.csv",
        what="no route was seen in both periods",
    )
    page = _page(rep, tmp_path)
    assert "<b>Comparison:</b> no data" in page
    assert "<b>Comparison:</b> no route was seen in both periods" in page


async def test_the_comparison_period_is_measured_or_says_why() -> None:
    async def measure(p: JobParams) -> str:
        if p.date_from == date(2025, 1, 1):
            raise JobError("no positions in the period")
        return p.period_text()

    params = JobParams(date(2025, 9, 1), date(2025, 9, 7), "America/Chicago")
    assert await measure_compared(params, measure) is None
    other = JobParams(
        date(2025, 9, 1),
        date(2025, 9, 7),
        compare_from=date(2025, 8, 1),
        compare_to=date(2025, 8, 1),
    )
    assert await measure_compared(other, measure) == "2025-08-01 (1 day, UTC)"
    bad = JobParams(compare_from=date(2025, 1, 1), compare_to=date(2025, 1, 2))
    assert await measure_compared(bad, measure) == "no positions in the period"
