"""The measured run, spread over several generator processes.

The clients are set up by one process (cursor_load.setup), then the generator
forks ``procs`` workers; each takes every procs-th client of the send order,
pins itself to one of the generator cores, and runs one ``select.epoll`` loop:
it sends its clients' cursors when the schedule says they are due and reads
whatever is readable. The forks share one clock (participant.clock: perf_counter,
which is CLOCK_MONOTONIC on Linux, plus an offset fixed before the fork), so a
send time stamped in one process and a receive time read in another compare
directly. The parent takes the relay and machine figures at the edges of the
measured window and merges what the workers counted.

Every client's last caret line is known from the schedule alone (the k-th send of
the whole schedule is client k mod n's), so each worker checks convergence of its
own receivers without asking the others.

Chat, when the schedule has any: ``Schedule.chats`` lists every chat message of the run
(send time, sender's index in the order); a worker sends those of its clients and, before
it reports, waits (within the settle time) for their acks and for every chat event its
receivers should get, known from the same list.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import pickle
import resource
import select
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from participant import Client, Stats, clock


@dataclass
class Schedule:
    t0: float  # send slot 0
    interval: float  # seconds between two consecutive sends of the whole generator
    n: int  # clients in the send order
    ws: float  # measured window start
    we: float  # measured window end: nothing is sent from here on
    settle_end: float  # give up waiting for convergence here
    heartbeat: float  # seconds between heartbeats of every client (0: none)
    chats: list[tuple[float, int]] = field(default_factory=list)  # (due, sender), by due

    def sends(self) -> int:
        """How many sends the whole schedule makes (the k with t0 + k*interval < we)."""
        k = max(0, math.ceil((self.we - self.t0) / self.interval))
        while self.t0 + k * self.interval < self.we:
            k += 1
        while k > 0 and self.t0 + (k - 1) * self.interval >= self.we:
            k -= 1
        return k

    def last_line(self, j: int) -> int:
        """The caret line of the last cursor client j of the order sends (-1: none)."""
        total = self.sends()
        return total // self.n + (1 if j < total % self.n else 0) - 1


def worker(order: list[Client], mine: list[int], sched: Schedule, core: int | None,
           out: Connection) -> None:
    """Drive the clients order[j] for j in ``mine``; send the counts to ``out``."""
    if core is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})
    st = Stats()
    st.ws, st.we = sched.ws, sched.we
    for j in mine:
        order[j].stats = st
    ep = select.epoll()
    IN, OUT = select.EPOLLIN, select.EPOLLOUT
    conns = {}

    def want_write(conn: Any, on: bool) -> None:
        if conn.sock is not None:
            ep.modify(conn.sock.fileno(), IN | OUT if on else IN)

    for j in mine:
        c = order[j]
        c.drain_inbox()
        c.conn.set_nonblocking()
        c.conn.want_write = want_write
        assert c.conn.sock is not None
        conns[c.conn.sock.fileno()] = c.conn
        ep.register(c.conn.sock.fileno(), IN)
    receivers = [order[j] for j in mine]
    index = {id(c): j for j, c in enumerate(order)}
    mine_set = set(mine)
    chats = [(due, order[j]) for due, j in sched.chats if j in mine_set]
    mine_ids = {id(order[j]) for j in mine}
    chat_expected = sum(1 for _, j in sched.chats for p in order[j].peers if id(p) in mine_ids)
    ci = 0  # the next chat of this worker: chats[ci]
    t0, interval, n, ws, we = sched.t0, sched.interval, sched.n, sched.ws, sched.we
    lag_append = st.send_lag.append
    heartbeat = b'{"type":"heartbeat"}'
    next_hb = t0 + sched.heartbeat if sched.heartbeat > 0 else math.inf
    cycle, slot = 0, 0  # the next send: order[mine[slot]] in period ``cycle``
    cpu_begin = cpu_end = None
    closed = 0
    conv = (0, len(receivers), 0, 0)

    def due_at() -> float:
        return t0 + (cycle * n + mine[slot]) * interval

    def send_due(now: float) -> float:
        nonlocal cycle, slot, next_hb, ci
        due = due_at()
        while due <= now and due < we:
            t = clock()
            order[mine[slot]].send_cursor(t)
            if ws <= t < we:
                st.sent += 1
                lag_append(t - due)
            slot += 1
            if slot == len(mine):
                slot, cycle = 0, cycle + 1
            due = due_at()
        while ci < len(chats) and chats[ci][0] <= now:
            chats[ci][1].send_chat(clock())
            ci += 1
        if now >= next_hb:
            for c in receivers:
                c.conn.send_text(heartbeat)
            next_hb += sched.heartbeat
        return min(due, chats[ci][0]) if ci < len(chats) else due

    def chat_done() -> bool:
        return (st.chat_acked_all == st.chat_sent_all
                and st.chat_events_all >= chat_expected)

    def convergence() -> tuple[int, int, int, int]:
        rc = pc = pn = 0
        for m in receivers:
            ok = True
            for p in m.peers:
                pn += 1
                if m.last.get(p.uid_b) == sched.last_line(index[id(p)]):
                    pc += 1
                else:
                    ok = False
            rc += ok
        return rc, len(receivers), pc, pn

    poll = ep.poll
    sending = True
    next_check = we
    while True:
        now = clock()
        if sending:
            due = send_due(now)
            if cpu_begin is None and now >= ws:
                cpu_begin = resource.getrusage(resource.RUSAGE_SELF)
            if due >= we:
                cpu_end = resource.getrusage(resource.RUSAGE_SELF)
                sending = False
            timeout = max(0.0, min(due, we, next_hb) - clock())
        else:
            if now >= next_check:
                conv = convergence()
                if (conv[0] == conv[1] and chat_done()) or now >= sched.settle_end:
                    break
                next_check = now + 0.01
            timeout = max(0.0, next_check - now)
        for handled, (fd, ev) in enumerate(poll(timeout), 1):
            conn = conns[fd]
            if ev & OUT:
                conn.flush()
            if ev & ~OUT and not conn.read(clock()):
                ep.unregister(fd)
                closed += 1
            if sending and not handled & 31:
                send_due(clock())  # keep to the schedule while reading a long batch
    ep.close()
    cpu = 0.0
    if cpu_begin is not None and cpu_end is not None:
        cpu = ((cpu_end.ru_utime - cpu_begin.ru_utime)
               + (cpu_end.ru_stime - cpu_begin.ru_stime))
    out.send_bytes(pickle.dumps({
        "sent": st.sent, "delivered": st.delivered, "frames": st.presence_frames_win,
        "updates": st.peer_updates_win, "bytes": st.presence_bytes_win,
        "slow": st.slow_frames, "latencies": st.latencies.tobytes(),
        "lag": st.send_lag.tobytes(), "echoes": st.echoes, "reorders": st.reorders,
        "duplicates": st.duplicates, "errors": dict(st.errors), "other": dict(st.other),
        "conv": conv, "closed": closed, "cpu_s": cpu, "settled_at": clock(),
        "chat": {"sent": st.chat_sent, "sent_all": st.chat_sent_all,
                 "acked_all": st.chat_acked_all, "events_all": st.chat_events_all,
                 "events_expected": chat_expected, "ack": st.chat_ack.tobytes(),
                 "same": st.chat_same.tobytes(), "cross": st.chat_cross.tobytes()},
    }))
    out.close()


def run(order: list[Client], sched: Schedule, procs: int, cores: list[int] | None,
        at_start: Any, at_end: Any) -> dict[str, Any]:
    """Fork the workers, call at_start() / at_end() at the window's edges, merge."""
    ctx = multiprocessing.get_context("fork")
    workers = []
    for w in range(procs):
        mine = list(range(w, sched.n, procs))
        if not mine:
            continue
        rx, tx = ctx.Pipe(duplex=False)
        core = cores[w % len(cores)] if cores else None
        p = ctx.Process(target=worker, args=(order, mine, sched, core, tx), daemon=True)
        p.start()
        tx.close()
        workers.append((p, rx))
    time.sleep(max(0.0, sched.ws - clock()))
    begin = at_start()
    time.sleep(max(0.0, sched.we - clock()))
    end = at_end()
    results = []
    deadline = sched.settle_end + 60
    for p, rx in workers:
        if not rx.poll(max(0.1, deadline - clock())):
            p.kill()
            raise TimeoutError("a generator worker did not report")
        results.append(pickle.loads(rx.recv_bytes()))
        p.join(10)
    return {"begin": begin, "end": end, "workers": results,
            "settle": max(r["settled_at"] for r in results) - sched.we}


def merge(st: Stats, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold the workers' counts into ``st``; return the run figures report.summarize reads."""
    conv = [0, 0, 0, 0]
    closed = 0
    cpus = []
    frames = updates = size = expected = 0
    for r in results:
        st.sent += r["sent"]
        st.delivered += r["delivered"]
        st.slow_frames += r["slow"]
        st.echoes += r["echoes"]
        st.reorders += r["reorders"]
        st.duplicates += r["duplicates"]
        st.errors.update(Counter(r["errors"]))
        st.other.update(Counter(r["other"]))
        lat = array("d")
        lat.frombytes(r["latencies"])
        st.latencies.extend(lat)
        lag = array("d")
        lag.frombytes(r["lag"])
        st.send_lag.extend(lag)
        conv = [a + b for a, b in zip(conv, r["conv"], strict=True)]
        closed += r["closed"]
        cpus.append(r["cpu_s"])
        frames += r["frames"]
        updates += r["updates"]
        size += r["bytes"]
        ch = r["chat"]
        st.chat_sent += ch["sent"]
        st.chat_sent_all += ch["sent_all"]
        st.chat_acked_all += ch["acked_all"]
        st.chat_events_all += ch["events_all"]
        expected += ch["events_expected"]
        for name in ("ack", "same", "cross"):
            got = array("d")
            got.frombytes(ch[name])
            getattr(st, f"chat_{name}").extend(got)
    return {"conv": tuple(conv), "closed": closed, "gen_cpu_s": cpus, "frames_win": frames,
            "updates_win": updates, "bytes_win": size, "chat_events_expected": expected}
