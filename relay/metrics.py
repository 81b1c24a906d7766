"""A small Prometheus text-format registry (counters, gauges, one histogram)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Histogram:
    __slots__ = ("buckets", "count", "counts", "sum")

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.count += 1
        self.sum += value


class Metrics:
    def __init__(self) -> None:
        self.messages_in: defaultdict[str, int] = defaultdict(int)
        self.messages_out: defaultdict[str, int] = defaultdict(int)
        self.errors: defaultdict[str, int] = defaultdict(int)
        self.closes: defaultdict[int, int] = defaultdict(int)
        self.fanout_latency = Histogram()
        self.connections_total = 0
        self.slow_disconnects = 0
        self.presence_coalesced = 0
        self.gauges: dict[str, Callable[[], float]] = {}

    def render(self) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        for name, fn in sorted(self.gauges.items()):
            family(f"ensemble_{name}", "gauge", name.replace("_", " "))
            out.append(f"ensemble_{name} {fn()}")
        family("ensemble_connections_total", "counter", "websocket connections accepted")
        out.append(f"ensemble_connections_total {self.connections_total}")
        labelled = (
            ("ensemble_messages_in_total", "type", "frames received by type", self.messages_in),
            ("ensemble_messages_out_total", "type", "frames sent by type", self.messages_out),
            ("ensemble_errors_total", "code", "error frames sent by code", self.errors),
            ("ensemble_closes_total", "code", "connections closed by the relay, by code",
             self.closes),
        )
        for name, label, help_text, counts in labelled:
            family(name, "counter", help_text)
            for key, n in sorted(counts.items()):
                out.append(f'{name}{{{label}="{key}"}} {n}')
        family("ensemble_slow_disconnects_total", "counter", "receivers dropped for lagging")
        out.append(f"ensemble_slow_disconnects_total {self.slow_disconnects}")
        family("ensemble_presence_coalesced_total", "counter", "presence entries coalesced")
        out.append(f"ensemble_presence_coalesced_total {self.presence_coalesced}")
        h = self.fanout_latency
        family("ensemble_fanout_latency_seconds", "histogram", "receive-to-write fan-out latency")
        acc = 0
        for bound, n in zip(h.buckets, h.counts, strict=False):
            acc += n
            out.append(f'ensemble_fanout_latency_seconds_bucket{{le="{bound}"}} {acc}')
        out.append(f'ensemble_fanout_latency_seconds_bucket{{le="+Inf"}} {h.count}')
        out.append(f"ensemble_fanout_latency_seconds_sum {h.sum}")
        out.append(f"ensemble_fanout_latency_seconds_count {h.count}")
        return "\n".join(out) + "\n"
