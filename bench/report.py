"""Figures of one run (JSON-ready) and their printed tables."""

from __future__ import annotations

from typing import Any

from participant import Stats


def cpu_busy(before: Any, after: Any) -> list[float]:
    """Per-core busy fraction between two psutil.cpu_times(percpu=True) samples."""
    out = []
    for a, b in zip(before, after, strict=True):
        total = sum(b) - sum(a)
        idle = (b.idle + b.iowait) - (a.idle + a.iowait)
        out.append(0.0 if total <= 0 else 1.0 - idle / total)
    return out


def percentile(sorted_vals: list[float], q: float) -> float | None:
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))]


def summarize(cfg: Any, st: Stats, run: dict[str, Any]) -> dict[str, Any]:
    begin, end, conv = run["begin"], run["end"], run["conv"]
    wall = end["wall"] - begin["wall"]
    lat = sorted(st.latencies)
    lag = sorted(st.send_lag)

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)

    expected = st.sent * (cfg.clients - 1)
    rcpu = None
    if begin["relay_cpu"] is not None:
        a, b = begin["relay_cpu"], end["relay_cpu"]
        rcpu = ((b.user - a.user) + (b.system - a.system)) / wall
    gen = run["gen_cpu_s"]  # CPU seconds of each generator worker in the window
    gcpu = sum(gen) / wall
    gmax = max(gen, default=0.0) / wall
    lag_p99 = percentile(lag, 0.99)
    saturated = gmax > 0.9
    late = lag_p99 is not None and lag_p99 > 0.005
    p99 = percentile(lat, 0.99)
    converged = conv[0] == conv[1]
    frames, updates, size = run["frames_win"], run["updates_win"], run["bytes_win"]
    return {
        "config": {
            "sessions": cfg.sessions, "clients_per_session": cfg.clients, "hz": cfg.hz,
            "clients": cfg.sessions * cfg.clients, "duration_s": cfg.duration,
            "warmup_s": cfg.warmup, "relay_core": cfg.relay_core, "gen_core": cfg.gen_core,
            "nice": cfg.nice, "realtime": cfg.rt, "phases": cfg.phases, "seed": cfg.seed,
            "relay_args": cfg.relay_args, "presence_encoding": cfg.presence,
            "generator_procs": run["procs"], "generator_cores": cfg.gen_cores,
        },
        "sent": st.sent,
        "expected_deliveries": expected,
        "delivered": st.delivered,
        "loss_pct": round(100 * (1 - st.delivered / expected), 3) if expected else None,
        "convergence": {
            "receivers_converged": conv[0], "receivers": conv[1],
            "peer_cursors_converged": conv[2], "peer_cursors": conv[3],
            "all_converged": converged, "settle_ms": round(run["settle"] * 1000, 1),
        },
        "latency_ms": {
            "count": len(lat), "p50": ms(percentile(lat, 0.5)),
            "p90": ms(percentile(lat, 0.9)), "p99": ms(p99),
            "p999": ms(percentile(lat, 0.999)), "max": ms(lat[-1] if lat else None),
        },
        "rates": {
            "in_msgs_per_s": round(st.sent / wall, 1),
            "out_peer_updates_per_s": round(updates / wall, 1),
            "out_frames_per_s": round(frames / wall, 1),
            "peers_per_frame": round(updates / frames, 2) if frames else None,
            "out_bytes_per_s": round(size / wall, 1),
            "bytes_per_frame": round(size / frames, 1) if frames else None,
            "bytes_per_peer_entry": round(size / updates, 1) if updates else None,
        },
        "relay": {"cpu_pct": None if rcpu is None else round(100 * rcpu, 1)},
        "generator": {
            "cpu_pct": round(100 * gcpu, 1), "busiest_proc_cpu_pct": round(100 * gmax, 1),
            "procs": run["procs"], "send_lag_p99_ms": ms(lag_p99),
            "send_lag_max_ms": ms(lag[-1] if lag else None), "saturated": saturated,
            "late": late,
            "slow_path_frames": st.slow_frames,
        },
        "errors": {"by_code": dict(st.errors), "echoes": st.echoes, "reorders": st.reorders,
                   "duplicates": st.duplicates, "connections_closed": run["closed"]},
        "other_frames": dict(st.other),
        "conditions": {
            "core_busy_pct": [round(100 * x, 1) for x in cpu_busy(begin["cores"], end["cores"])],
            "wall_s": round(wall, 3),
        },
        "pass": bool(p99 is not None and p99 < 0.010 and converged and not st.echoes
                     and not run["closed"]),
    }


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.2f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"


def table(r: dict[str, Any]) -> str:
    c, lat, rates, conv = r["config"], r["latency_ms"], r["rates"], r["convergence"]
    gen, rel, err, cond = r["generator"], r["relay"], r["errors"], r["conditions"]
    rows = [
        ("load", f"{c['sessions']} sessions x {c['clients_per_session']} clients x "
                 f"{c['hz']:g} Hz = {c['clients']} clients, {c['duration_s']:g}s measured, "
                 f"{c['phases']} send slots, presence encoding {c['presence_encoding']}"
                 + (f", nice {c['nice']}" if c.get("nice") else "")
                 + (", real-time scheduling" if c.get("realtime") else "")),
        ("sent (cursor updates)", fmt(r["sent"])),
        ("delivered (peer updates)",
         f"{fmt(r['delivered'])} of {fmt(r['expected_deliveries'])} expected"),
        ("loss (coalesced or dropped)", fmt(r["loss_pct"], " %")),
        ("converged receivers",
         f"{conv['receivers_converged']}/{conv['receivers']} ({conv['peer_cursors_converged']}/"
         f"{conv['peer_cursors']} peer cursors), {conv['settle_ms']:g} ms after the last send"),
        ("fan-out latency p50", fmt(lat["p50"], " ms")),
        ("fan-out latency p90", fmt(lat["p90"], " ms")),
        ("fan-out latency p99", fmt(lat["p99"], " ms")),
        ("fan-out latency p99.9", fmt(lat["p999"], " ms")),
        ("fan-out latency max", fmt(lat["max"], " ms")),
        ("msgs/s in (cursor updates)", fmt(rates["in_msgs_per_s"])),
        ("peer updates/s out", fmt(rates["out_peer_updates_per_s"])),
        ("frames/s out", f"{fmt(rates['out_frames_per_s'])} "
                         f"({fmt(rates['peers_per_frame'])} peers per frame)"),
        ("bytes per frame / per peer entry",
         f"{fmt(rates['bytes_per_frame'])} / {fmt(rates['bytes_per_peer_entry'])} "
         f"(WebSocket payload; {fmt(rates['out_bytes_per_s'] / 1e6)} MB/s out)"),
        ("relay CPU", fmt(rel["cpu_pct"], " % of one core")),
        ("relay peak RSS", fmt(rel.get("peak_rss_mb"), " MB")),
        ("generator CPU", fmt(gen["cpu_pct"], " % of one core") + f" in {gen['procs']} "
         f"process{'es' if gen['procs'] != 1 else ''} "
         f"(busiest {fmt(gen['busiest_proc_cpu_pct'])} %)"
         + ("  SATURATED: latency figures are upper bounds" if gen["saturated"] else
            "  LATE (descheduled by other work?): latency figures are upper bounds"
            if gen.get("late") else "")),
        ("generator send lag p99 / max",
         f"{fmt(gen['send_lag_p99_ms'])} / {fmt(gen['send_lag_max_ms'])} ms"),
        ("errors", f"{err['by_code'] or 'none'}; echoes {err['echoes']}, reorders "
                   f"{err['reorders']}, duplicates {err['duplicates']}, "
                   f"connections closed {err['connections_closed']}"),
        ("cores busy, all processes", " / ".join(f"{b:g}%" for b in cond["core_busy_pct"])),
        ("load average before / after",
         f"{cond.get('loadavg_before')} / {cond.get('loadavg_after')}"),
        ("machine speed (median json.loads)",
         fmt(cond.get("json_loads_us"), " us (about 3 us on an idle machine)")),
        ("verdict (p99 < 10 ms, all converged)", "PASS" if r["pass"] else "FAIL"),
    ]
    width = max(len(k) for k, _ in rows)
    out = [f"{k:<{width}}  {v}" for k, v in rows]
    if "profile" in r:
        out.append(f"relay profile ({r['profile']['file']}), share of samples, self:")
        out += [f"  {pct:5.1f}%  {f}" for f, pct in r["profile"]["top"]["self"]]
    return "\n".join(out)


def sweep_table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'slots':>6} {'sessions':>8} {'clients':>7} {'hz':>4} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'max ms':>8} {'loss %':>7} {'converged':>9} {'relay %':>8} {'gen %':>6} "
             f"{'B/entry':>7}  verdict"]
    for r in results:
        c, lat, cv = r["config"], r["latency_ms"], r["convergence"]
        gen = r["generator"]
        sat = (" (generator saturated)" if gen["saturated"] else
               " (generator late)" if gen.get("late") else "")
        lines.append(
            f"{c['phases']:>6} {c['sessions']:>8} {c['clients']:>7} {c['hz']:>4g} "
            f"{fmt(lat['p50']):>8} "
            f"{fmt(lat['p99']):>8} {fmt(lat['max']):>8} {fmt(r['loss_pct']):>7} "
            f"{cv['receivers_converged']:>4}/{cv['receivers']:<4} "
            f"{fmt(r['relay']['cpu_pct']):>8} {fmt(r['generator']['cpu_pct']):>6} "
            f"{fmt(r['rates']['bytes_per_peer_entry']):>7}  "
            f"{'PASS' if r['pass'] else 'FAIL'}{sat}")
    for phase in dict.fromkeys(r["config"]["phases"] for r in results):
        runs: dict[int, list[bool]] = {}
        for r in results:
            if r["config"]["phases"] == phase:
                runs.setdefault(r["config"]["clients"], []).append(r["pass"])
        every = [n for n, ok in runs.items() if all(ok)]
        some = [n for n, ok in runs.items() if any(ok)]
        per = results[0]["config"]
        if not some:
            lines.append(f"{phase} slots: no load held p99 < 10 ms with every client converged")
        for label, held in (("in every run", every), ("in some run", some)):
            if held and (label == "in every run" or max(some) != max(every or [0])):
                n = max(held)
                lines.append(f"{phase} slots: largest load held with p99 < 10 ms {label}: "
                             f"{n // per['clients_per_session']} x "
                             f"{per['clients_per_session']} x {per['hz']:g} Hz ({n} clients)")
    return "\n".join(lines)


