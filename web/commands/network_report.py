"""``smartbus network-report``: connectivity, the most central stops, unreachable stops."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.errors import FeedError

from ..settings import SettingsError
from .plan import load_network_for_command

if TYPE_CHECKING:
    from routing.analysis import NetworkReport

__all__ = ["format_report", "register"]


def register(subparsers: Any) -> None:
    """Add the ``network-report`` command."""
    p = subparsers.add_parser(
        "network-report",
        help="network analysis for planners: connectivity, central stops, unreachable stops",
        description="Build the network graph (stops, route patterns, walking transfers) of the "
        "served feed or of --gtfs, and report its connectivity, the stops with the highest "
        "betweenness centrality and the stops riders cannot reach or leave.",
    )
    p.add_argument("--gtfs", type=Path, help="analyse this GTFS zip/folder instead")
    p.add_argument("--top", type=int, default=15, help="how many central stops to list")
    p.add_argument(
        "--sample", type=int, default=100,
        help="estimate betweenness from this many sampled stops on bigger networks",
    )  # fmt: skip
    p.add_argument(
        "--transfer-radius", type=float, default=400.0, help="walking transfer radius, metres"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd)


def format_report(r: NetworkReport, listed: int = 20) -> str:
    """The report as readable text."""
    sample = "exact" if r.betweenness_sample is None else f"from {r.betweenness_sample} sources"
    lines = [
        f"stops            {r.stops:>8,}  ({r.served_stops:,} served by at least one trip)",
        f"route patterns   {r.patterns:>8,}",
        f"ride edges       {r.ride_edges:>8,}",
        f"walk edges       {r.walk_edges:>8,}",
        f"components       {r.components_riding:>8,} riding only, "
        f"{r.components_with_walking:,} with walking transfers",
        f"largest component holds {r.largest_component_share:.1%} of served stops; "
        f"{r.strongly_connected_share:.1%} can reach each other both ways",
        "",
        f"most central stops (betweenness, {sample}):",
    ]
    for c in r.central:
        lines.append(f"  {c.betweenness:7.4f}  {c.stop_id:<12} {c.name}  ({c.routes} routes)")
    for title, ids in (
        ("stops no trip serves", r.unserved),
        ("served stops outside the strongly connected core (one-way or isolated)", r.unreachable),
    ):
        lines.append("")
        lines.append(f"{title}: {len(ids)}")
        lines += [f"  {s}" for s in ids[:listed]]
        if len(ids) > listed:
            lines.append(f"  ... and {len(ids) - listed} more")
    return "\n".join(lines)


def _cmd(args: argparse.Namespace) -> int:
    # networkx and scipy load here, not at start-up (``smartbus --help`` stays fast)
    from routing.analysis import network_report
    from routing.graph import GraphConfig, build_graph

    if args.top < 0 or args.sample < 1 or not 0 <= args.transfer_radius <= 5000:
        print(
            "smartbus network-report: --top >= 0, --sample >= 1, --transfer-radius 0..5000",
            file=sys.stderr,
        )
        return 2
    try:
        network, _ = load_network_for_command(args)
    except (FeedError, SettingsError, OSError) as exc:
        print(f"smartbus network-report: {exc}", file=sys.stderr)
        return 2
    graph = build_graph(network, GraphConfig(transfer_radius_m=args.transfer_radius))
    report = network_report(graph, top=args.top, sample=args.sample)
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        print(format_report(report))
    return 0
