"""bench/cluster_load.py runs end to end at a tiny load and its figures add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import services
from tests.ci import need

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_bench_spread_over_two_relays_reports_cursor_chat_and_redis_figures() -> None:
    need(services.redis_missing() + services.postgres_missing(),
         "apt-get install postgresql redis-server (make tools)")
    out = subprocess.run(
        [sys.executable, "bench/cluster_load.py", "--relay-counts", "2", "--routing", "spread",
         "--sessions", "2", "--clients", "3", "--duration", "2", "--warmup", "0.5",
         "--settle", "5", "--phases", "even", "--chat-every", "0.5", "--no-pin", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    [run] = json.loads(out.stdout)
    assert run["cluster"]["relays"] == 2 and run["cluster"]["routing"] == "spread"
    # client i of each session on relay i mod 2: members 0 and 2 on relay 0, member 1 on 1
    assert run["cluster"]["clients_per_relay"] == [4, 2]
    assert run["cluster"]["sessions_per_relay"] == [2, 2]
    assert run["config"]["clients"] == 6
    assert run["sent"] > 0 and run["delivered"] > 0
    assert run["convergence"]["all_converged"]
    assert run["latency_ms"]["count"] == run["delivered"] and run["latency_ms"]["p99"] > 0
    chat = run["chat"]
    assert chat["sent"] > 0 and chat["complete"]
    assert chat["acked_all"] == chat["sent_all"]
    assert chat["delivered_all"] == chat["expected_all"] == 2 * chat["sent_all"]
    assert chat["ack_ms"]["count"] == chat["sent"] and chat["ack_ms"]["p99"] > 0
    # a sender on relay 0 reaches one member on relay 0 and one on relay 1, and vice versa
    assert chat["same_relay_ms"]["count"] > 0 and chat["cross_relay_ms"]["count"] > 0
    assert chat["same_relay_ms"]["count"] + chat["cross_relay_ms"]["count"] == 2 * chat["sent"]
    assert set(run["cpu_pct"]) == {"relay 0", "relay 1", "redis", "postgresql"}
    assert all(v >= 0 for v in run["cpu_pct"].values())
    assert run["cpu_pct"]["relay 0"] > 0 and run["cpu_pct"]["relay 1"] > 0
    assert run["errors"]["echoes"] == 0 and run["errors"]["connections_closed"] == 0
