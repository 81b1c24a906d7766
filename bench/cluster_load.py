"""Cluster load benchmark: the cursor load of cursor_load.py on K relays that share one
PostgreSQL (the store) and one Redis (the bus), plus one chat message per second per
session, for each relay count and routing.

Starts a throwaway redis-server and PostgreSQL (tests/services.py: ``initdb`` and
``pg_ctl`` in a temporary folder, free ports), pins them and each relay to cores of their
own, and drives the clients from several generator processes (bench/load_loop.py), as
cursor_load.py does. Routing: ``affinity`` puts every client of a session on the relay
the daemon would pick for it (rendezvous hashing of the session id over the relay URLs,
daemon/session/relays.py); ``spread`` puts client i of every session on relay i mod K, so
every session's presence and chat cross relays through Redis. bench/README.md says what
each printed figure means.

    python bench/cluster_load.py --relay-counts 1,2 --sweep 2,5 --duration 5   # 2 cores
    python bench/cluster_load.py --relay-counts 1,2,4,6 --per-relay --sweep 20,40,60,80
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests/, daemon/
from cursor_load import (
    Config,
    close_all,
    cores,
    load_args,
    load_config,
    loads,
    measure,
    prepare,
)
from lean_ws import WsError
from participant import Stats
from relay_proc import BenchError, Relay, Watched, peak_rss_mb, pin
from report import cluster_summary, cluster_sweep_table, table
from sessions import setup

from daemon.session.relays import relay_order
from tests import services

# High enough that no client's chat is ever refused (each sends one every C seconds).
CLUSTER_RELAY_ARGS = ["--user-writes-per-minute", "100000"]
ROUTINGS = ("affinity", "spread")
ALL_CORES = sorted(os.sched_getaffinity(0))


@dataclass
class Layout:
    """Cores of each part of the cluster; None: not pinned."""

    relays: list[int] | None
    redis: list[int] | None
    postgres: list[int] | None
    generator: list[int] | None

    def relay_core(self, i: int) -> int | None:
        return None if not self.relays else self.relays[i % len(self.relays)]

    def describe(self, k: int) -> str:
        if not any((self.relays, self.redis, self.postgres, self.generator)):
            return "nothing pinned"
        return (f"relays on {[self.relay_core(i) for i in range(k)]}, Redis on {self.redis}, "
                f"PostgreSQL on {self.postgres}, generator on {self.generator}")


def layout(a: argparse.Namespace, k: int) -> Layout:
    """The flags' cores; what they leave out: relays on 0..K-1, Redis on K, PostgreSQL on
    K+1, the generator on the rest, when the machine has that many cores (else unpinned)."""
    if a.no_pin:
        return Layout(None, None, None, None)
    n = os.cpu_count() or 1
    auto = n >= k + 3
    rel = cores(a.relay_cores) if a.relay_cores else list(range(k)) if auto else None
    red = cores(a.redis_cores) if a.redis_cores else [k] if auto else None
    pg = cores(a.postgres_cores) if a.postgres_cores else [k + 1] if auto else None
    gen = cores(a.gen_cores) if a.gen_cores else list(range(k + 2, n)) if auto else None
    return Layout(rel, red, pg, gen)


class Services:
    """One throwaway Redis and PostgreSQL for the whole benchmark; a fresh database and an
    empty Redis for each run."""

    def __init__(self, log: Any) -> None:
        missing = services.redis_missing() + services.postgres_missing()
        if missing:
            raise BenchError("the cluster benchmark needs " + ", ".join(missing)
                             + " (apt-get install postgresql redis-server; "
                               "pip install -e '.[scale]')")
        self.log = log
        self.folders = [services.temp_folder("ensemble-bench-redis-"),
                        services.temp_folder("ensemble-bench-pg-")]
        self.redis = services.RedisServer(self.folders[0])
        self.postgres = services.PostgresServer(self.folders[1])
        self.runs = 0

    def start(self) -> Services:
        self.redis.start()
        self.postgres.init().start()
        self.log(f"redis-server pid {self.redis_pid} on {self.redis.url}, PostgreSQL pid "
                 f"{self.postgres_pid} on port {self.postgres.port}")
        return self

    @property
    def redis_pid(self) -> int:
        assert self.redis.proc is not None
        return self.redis.proc.pid

    @property
    def postgres_pid(self) -> int:  # the postmaster; the backends are its children
        return int((self.postgres.data / "postmaster.pid").read_text().split()[0])

    def pin(self, lay: Layout) -> None:
        """Pin Redis and PostgreSQL as ``lay`` says (unpinned: every core)."""
        pin(self.redis_pid, lay.redis or ALL_CORES)
        pin(self.postgres_pid, lay.postgres or ALL_CORES, tree=True)

    def fresh_store(self) -> str:
        """An empty Redis and a new database; the relays' --store URL."""
        self.redis.command("FLUSHALL")
        self.runs += 1
        name = f"bench_{os.getpid()}_{self.runs}"
        self.postgres.create_database(name)
        return f"postgresql://postgres@127.0.0.1:{self.postgres.port}/{name}"

    def watched(self) -> list[Watched]:
        return [Watched("redis", self.redis_pid),
                Watched("postgresql", self.postgres_pid, tree=True)]

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.stop("immediate")
        for f in self.folders:
            shutil.rmtree(f, ignore_errors=True)


def router(relays: list[Relay], routing: str) -> Any:
    """(session id, member index) -> index of the member's relay."""
    urls = [f"ws://{r.host}:{r.port}" for r in relays]
    if routing == "affinity" and len(relays) > 1:
        return lambda sid, i: urls.index(relay_order(urls, sid)[0])
    return lambda sid, i: i % len(relays)


def run_once(cfg: Config, k: int, routing: str, lay: Layout, svc: Services,
             log: Any) -> dict[str, Any]:
    st = Stats()
    store = svc.fresh_store()
    secret = secrets.token_hex(24)  # every relay of a cluster signs and checks with one
    args = [*cfg.relay_args, *CLUSTER_RELAY_ARGS, "--store", store, "--bus", svc.redis.url]
    relays: list[Relay] = []
    sessions: list[list[Any]] = []
    try:
        for i in range(k):
            relays.append(Relay.start(lay.relay_core(i), args,
                                      env={"ENSEMBLE_JWT_SECRET": secret}))
        log(f"{k} relays ({routing}): " + ", ".join(
            f"pid {r.pid} on ws://{r.host}:{r.port}" for r in relays) + f"; {lay.describe(k)}")
        sessions = setup(cfg, relays, st, log, router(relays, routing))
        watched = [Watched(f"relay {i}", r.pid) for i, r in enumerate(relays) if r.pid]
        result = measure(cfg, st, sessions, [*watched, *svc.watched()], log)
        result["relay"]["peak_rss_mb"] = max(
            (peak_rss_mb(r.pid) or 0.0) for r in relays if r.pid)
        result["cluster"] = {
            "relays": k, "routing": routing,
            # sessions with a member on each relay (spread: every session on every relay)
            "sessions_per_relay": [sum(any(c.relay == i for c in s) for s in sessions)
                                   for i in range(k)],
            "clients_per_relay": [Counter(c.relay for s in sessions for c in s)[i]
                                  for i in range(k)],
            "relay_cores": [lay.relay_core(i) for i in range(k)], "redis_cores": lay.redis,
            "postgres_cores": lay.postgres, "chat_every_s": cfg.chat_every,
        }
        return result
    finally:
        close_all(sessions)
        for r in relays:
            r.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    load_args(ap)
    ap.add_argument("--relay-counts", default="1,2,4,6",
                    help="relay counts K to measure, each with the whole sweep")
    ap.add_argument("--routing", choices=(*ROUTINGS, "both"), default="both",
                    help="affinity: a session's clients on the relay the daemon's rendezvous "
                         "hash picks; spread: client i of every session on relay i mod K")
    ap.add_argument("--per-relay", action="store_true",
                    help="the --sweep (or --sessions) counts are per relay: K relays get K "
                         "times as many sessions")
    ap.add_argument("--relay-cores", default=None,
                    help="cores of the relays, relay i on the i-th (default 0..K-1)")
    ap.add_argument("--redis-cores", default=None, help="cores of Redis (default K)")
    ap.add_argument("--postgres-cores", default=None,
                    help="cores of PostgreSQL, every backend (default K+1)")
    ap.add_argument("--chat-every", type=float, default=1.0,
                    help="seconds between the chat messages of each session (0: no chat)")
    ap.add_argument("--stop-on-fail", action="store_true",
                    help="skip the larger loads of a relay count, routing and send slots "
                         "after one that misses p99 < 20 ms or convergence")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    counts = [int(x) for x in a.relay_counts.split(",")]
    routings = list(ROUTINGS) if a.routing == "both" else [a.routing]
    base = load_config(a, chat_every=a.chat_every, relay_core=None, gen_core=None)
    runs = loads(a, base)
    scale = max(counts) if a.per_relay else 1
    prepare(base, max(r for r, _ in runs) * scale * base.clients)

    def log(msg: str) -> None:
        print(f"[cluster_load] {msg}", file=sys.stderr, flush=True)

    results: list[dict[str, Any]] = []
    failed: set[tuple[int, str, str]] = set()
    rc = 0
    svc = Services(log)
    try:
        svc.start()
        for k in counts:
            lay = layout(a, k)
            svc.pin(lay)
            os.sched_setaffinity(0, (lay.generator or [])[:1] or ALL_CORES)  # setup process
            for routing in routings if k > 1 else ["single"]:  # one relay: no routing
                for r, phase in runs:
                    if (k, routing, phase) in failed:
                        continue
                    cfg = replace(base, sessions=r * (k if a.per_relay else 1), phases=phase,
                                  gen_cores=lay.generator,
                                  gen_core=lay.generator[0] if lay.generator else None)
                    res = run_once(cfg, k, routing, lay, svc, log)
                    results.append(res)
                    if a.stop_on_fail and not (
                            res["convergence"]["all_converged"]
                            and (res["latency_ms"]["p99"] or 1e9) < 20):
                        failed.add((k, routing, phase))
                    if not a.json:
                        print(f"== {k} relay{'s' if k > 1 else ''}, {routing} routing, "
                              f"sessions per relay {res['cluster']['sessions_per_relay']}, "
                              f"clients per relay {res['cluster']['clients_per_relay']}")
                        print(table(res), flush=True)
                        print(flush=True)
    except (BenchError, WsError, OSError, RuntimeError) as exc:
        log(f"run failed: {exc}")
        rc = 1
    finally:
        svc.stop()
    if a.json:
        print(json.dumps(results, indent=2))
    elif results:
        print(cluster_sweep_table(results))
        print()
        print(cluster_summary(results))
    if not rc and a.strict and not all(r["pass"] for r in results):
        rc = 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
