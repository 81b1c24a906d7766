"""Figures of one run (JSON-ready) and their printed tables."""

from __future__ import annotations

from typing import Any

from participant import Stats
from relay_proc import cpu_between


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


def ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 3)


def spread(values: Any) -> dict[str, Any]:
    """Count, p50, p99 and max (ms) of latencies in seconds."""
    v = sorted(values)
    return {"count": len(v), "p50": ms(percentile(v, 0.5)), "p99": ms(percentile(v, 0.99)),
            "max": ms(v[-1] if v else None)}


def chat_figures(st: Stats, run: dict[str, Any]) -> dict[str, Any]:
    expected = run.get("chat_events_expected", 0)
    return {
        "sent": st.chat_sent, "sent_all": st.chat_sent_all, "acked_all": st.chat_acked_all,
        "delivered_all": st.chat_events_all, "expected_all": expected,
        "complete": st.chat_acked_all == st.chat_sent_all and st.chat_events_all >= expected,
        "ack_ms": spread(st.chat_ack), "same_relay_ms": spread(st.chat_same),
        "cross_relay_ms": spread(st.chat_cross),
    }


def summarize(cfg: Any, st: Stats, run: dict[str, Any]) -> dict[str, Any]:
    begin, end, conv = run["begin"], run["end"], run["conv"]
    wall = end["wall"] - begin["wall"]
    lat = sorted(st.latencies)
    lag = sorted(st.send_lag)
    expected = st.sent * (cfg.clients - 1)
    # CPU of each watched process (the relays, Redis, PostgreSQL), % of one core
    cpu = {name: round(100 * cpu_between(begin["cpu"][name], end["cpu"][name]) / wall, 1)
           for name in begin["cpu"]}
    relays = [v for name, v in cpu.items() if name.startswith("relay")]
    gen = run["gen_cpu_s"]  # CPU seconds of each generator worker in the window
    gcpu = sum(gen) / wall
    gmax = max(gen, default=0.0) / wall
    lag_p99 = percentile(lag, 0.99)
    saturated = gmax > 0.9
    late = lag_p99 is not None and lag_p99 > 0.005
    p99 = percentile(lat, 0.99)
    converged = conv[0] == conv[1]
    frames, updates, size = run["frames_win"], run["updates_win"], run["bytes_win"]
    chat = chat_figures(st, run) if st.chat_sent_all else None
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
        "relay": {"cpu_pct": max(relays) if relays else None},  # the busiest relay
        "cpu_pct": cpu,
        "chat": chat,
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
                     and not run["closed"] and (chat is None or chat["complete"])),
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
        ("relay CPU", fmt(rel["cpu_pct"], " % of one core")
         + (" (the busiest relay)" if len(r["cpu_pct"]) > 1 else "")),
        *([("CPU by process", " / ".join(f"{k} {fmt(v)} %" for k, v in r["cpu_pct"].items()))]
          if len(r["cpu_pct"]) > 1 else []),
        *chat_rows(r["chat"]),
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
        *([("relay from", cond["relay_checkout"])] if cond.get("relay_checkout") else []),
        ("verdict (p99 < 10 ms, all converged"
         + (", every chat acked and delivered)" if r.get("chat") else ")"),
         "PASS" if r["pass"] else "FAIL"),
    ]
    width = max(len(k) for k, _ in rows)
    out = [f"{k:<{width}}  {v}" for k, v in rows]
    if "profile" in r:
        out.append(f"relay profile ({r['profile']['file']}), share of samples, self:")
        out += [f"  {pct:5.1f}%  {f}" for f, pct in r["profile"]["top"]["self"]]
    return "\n".join(out)


def chat_rows(chat: dict[str, Any] | None) -> list[tuple[str, str]]:
    if chat is None:
        return []

    def p(d: dict[str, Any]) -> str:
        return (f"{fmt(d['p50'])} / {fmt(d['p99'])} / {fmt(d['max'])} ms ({d['count']})"
                if d["count"] else "n/a (none)")

    return [
        ("chat messages", f"{chat['sent']} sent in the window; of all {chat['sent_all']}: "
                          f"{chat['acked_all']} acked, {chat['delivered_all']} of "
                          f"{chat['expected_all']} deliveries to peers"),
        ("chat ack p50 / p99 / max", p(chat["ack_ms"])),
        ("chat delivery, same relay", p(chat["same_relay_ms"])),
        ("chat delivery, cross relay", p(chat["cross_relay_ms"])),
    ]


def generator_note(r: dict[str, Any]) -> str:
    """Why a run's latencies may be upper bounds: the generator, not the relay, was busy."""
    gen = r["generator"]
    return (" (generator saturated)" if gen["saturated"] else
            " (generator late)" if gen.get("late") else "")


def sweep_table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'slots':>6} {'sessions':>8} {'clients':>7} {'hz':>4} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'max ms':>8} {'loss %':>7} {'converged':>9} {'relay %':>8} {'gen %':>6} "
             f"{'B/entry':>7}  verdict"]
    for r in results:
        c, lat, cv = r["config"], r["latency_ms"], r["convergence"]
        lines.append(
            f"{c['phases']:>6} {c['sessions']:>8} {c['clients']:>7} {c['hz']:>4g} "
            f"{fmt(lat['p50']):>8} "
            f"{fmt(lat['p99']):>8} {fmt(lat['max']):>8} {fmt(r['loss_pct']):>7} "
            f"{cv['receivers_converged']:>4}/{cv['receivers']:<4} "
            f"{fmt(r['relay']['cpu_pct']):>8} {fmt(r['generator']['cpu_pct']):>6} "
            f"{fmt(r['rates']['bytes_per_peer_entry']):>7}  "
            f"{'PASS' if r['pass'] else 'FAIL'}{generator_note(r)}")
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




def holds(r: dict[str, Any], limit_ms: float) -> bool:
    """The run held its load: p99 under ``limit_ms``, every client converged, every chat
    message acked and delivered, no echo, no connection closed."""
    p99, err, chat = r["latency_ms"]["p99"], r["errors"], r.get("chat")
    return bool(p99 is not None and p99 < limit_ms and r["convergence"]["all_converged"]
                and not err["echoes"] and not err["connections_closed"]
                and (chat is None or chat["complete"]))


def _chat_p99(r: dict[str, Any] | None, key: str) -> Any:
    chat = r and r.get("chat")
    return chat[key]["p99"] if chat else None


def cluster_sweep_table(results: list[dict[str, Any]]) -> str:
    """One line per cluster run."""
    lines = [f"{'relays':>6} {'routing':>8} {'slots':>6} {'sessions':>8} {'clients':>7} "
             f"{'p50 ms':>7} {'p99 ms':>7} {'converged':>9} {'ack p99':>7} {'same p99':>8} "
             f"{'cross p99':>9} {'relay %':>7} {'redis %':>7} {'pg %':>5} {'gen %':>6}  verdict"]
    for r in results:
        c, lat, cv, cl, cpu = (r["config"], r["latency_ms"], r["convergence"], r["cluster"],
                               r["cpu_pct"])
        lines.append(
            f"{cl['relays']:>6} {cl['routing']:>8} {c['phases']:>6} {c['sessions']:>8} "
            f"{c['clients']:>7} {fmt(lat['p50']):>7} {fmt(lat['p99']):>7} "
            f"{cv['receivers_converged']:>4}/{cv['receivers']:<4} "
            f"{fmt(_chat_p99(r, 'ack_ms')):>7} {fmt(_chat_p99(r, 'same_relay_ms')):>8} "
            f"{fmt(_chat_p99(r, 'cross_relay_ms')):>9} {fmt(r['relay']['cpu_pct']):>7} "
            f"{fmt(cpu.get('redis')):>7} {fmt(cpu.get('postgresql')):>5} "
            f"{fmt(r['generator']['cpu_pct']):>6}  {'PASS' if r['pass'] else 'FAIL'}"
            f"{generator_note(r)}")
    return "\n".join(lines)


def cluster_summary(results: list[dict[str, Any]]) -> str:
    """Per relay count, routing and send slots: the largest load held (p99 < 10 ms, and
    < 20 ms), and the chat and Redis figures of the run that held the first."""
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["cluster"]["relays"], r["cluster"]["routing"],
                           r["config"]["phases"]), []).append(r)

    def best(runs: list[dict[str, Any]], limit: float) -> dict[str, Any] | None:
        held = [r for r in runs if holds(r, limit)]
        return max(held, key=lambda r: r["config"]["clients"]) if held else None

    def load(r: dict[str, Any] | None) -> str:
        if r is None:
            return "none"
        c = r["config"]
        return f"{c['sessions']} x {c['clients_per_session']} x {c['hz']:g} Hz"

    lines = [f"{'relays':>6} {'routing':>8} {'slots':>6} {'held p99<10ms':>18} {'x 1 relay':>9} "
             f"{'held p99<20ms':>18} {'ack p99':>7} {'cross p99':>9} {'redis %':>7} "
             f"{'busiest relay %':>15}"]
    for (k, routing, phase), runs in groups.items():
        b10, b20 = best(runs, 10.0), best(runs, 20.0)
        one = best(groups.get((1, "single", phase), []), 10.0)
        ratio = (f"{b10['config']['clients'] / one['config']['clients']:.2f}"
                 if b10 and one else "n/a")
        lines.append(
            f"{k:>6} {routing:>8} {phase:>6} {load(b10):>18} {ratio:>9} {load(b20):>18} "
            f"{fmt(_chat_p99(b10, 'ack_ms')):>7} {fmt(_chat_p99(b10, 'cross_relay_ms')):>9} "
            f"{fmt(b10['cpu_pct'].get('redis') if b10 else None):>7} "
            f"{fmt(b10['relay']['cpu_pct'] if b10 else None):>15}")
    lines.append("held: every client converged and every chat message acked and delivered; "
                 "ack p99, cross p99 (chat delivery to a member on another relay, ms), "
                 "Redis and relay CPU (% of one core) are those of the p99 < 10 ms run")
    return "\n".join(lines)
