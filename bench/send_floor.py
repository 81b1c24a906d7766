"""The machine's floor for a relay's fan-out: what one small send costs its core.

A sender pinned to one core (as the relay is) writes one presence-sized payload to
each of N loopback TCP connections in turn, as a fan-out does; a reader pinned to
the other core (as the load generator is) drains them. The sender's CPU time per
send is what any relay, in any language, pays the kernel per frame on this machine:
frames/s x this cost is the share of its core gone before it does any work of its
own. The same is measured over Unix socket pairs for comparison (on loopback TCP the
receiver's TCP processing runs on the sender's core; over a real network it would
run on the clients' machines).

    .venv/bin/python bench/send_floor.py                 # 600 connections, 300-byte payloads
    .venv/bin/python bench/send_floor.py --size 600 --sends 300000
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import socket
import time


def _reader(socks: list[socket.socket], core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    ep = select.epoll()
    by_fd = {}
    for s in socks:
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLIN)
        by_fd[s.fileno()] = s
    open_fds = len(by_fd)
    while open_fds:
        for fd, _ in ep.poll(5.0):
            try:
                data = by_fd[fd].recv(65536)
            except BlockingIOError:
                continue
            if not data:
                ep.unregister(fd)
                open_fds -= 1
    os._exit(0)


def _pairs(kind: str, n: int) -> tuple[list[socket.socket], list[socket.socket]]:
    if kind == "unix":
        pairs = [socket.socketpair() for _ in range(n)]
        return [a for a, _ in pairs], [b for _, b in pairs]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(n)
    port = listener.getsockname()[1]
    far = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    near = [listener.accept()[0] for _ in range(n)]
    listener.close()
    for s in near:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio sets it
    return near, far


def measure(kind: str, n: int, size: int, sends: int, rate: float,
            cores: tuple[int, int] | None) -> dict[str, float]:
    near, far = _pairs(kind, n)
    pid = os.fork()
    if pid == 0:
        for s in near:
            s.close()
        _reader(far, None if cores is None else cores[1])
    for s in far:
        s.close()
    if cores is not None:
        os.sched_setaffinity(0, {cores[0]})
    for s in near:
        s.setblocking(False)
    payload = b"x" * size
    calls = [s.send for s in near]
    pause = n / rate  # one send per connection, then a pause: about `rate` sends/s
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    done = blocked = 0
    while done < sends:
        for call in calls:
            try:
                call(payload)
            except BlockingIOError:
                blocked += 1
        done += n
        time.sleep(pause)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for s in near:
        s.close()
    os.waitpid(pid, 0)
    user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    return {"sends": done, "per_s": done / (t1 - t0), "user_us": user / done * 1e6,
            "system_us": system / done * 1e6, "blocked": blocked}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=600)
    ap.add_argument("--size", type=int, default=300, help="payload bytes per send")
    ap.add_argument("--sends", type=int, default=300_000)
    ap.add_argument("--rate", type=float, default=60_000, help="target sends per second")
    ap.add_argument("--no-pin", action="store_true", help="pin neither process")
    a = ap.parse_args()
    cores = None if a.no_pin else (0, 1)
    print(f"{a.connections} connections, {a.size}-byte sends, about {a.rate:,.0f}/s, "
          f"sender on core {cores[0] if cores else '-'}, reader on core "
          f"{cores[1] if cores else '-'}")
    for kind in ("tcp", "unix"):
        r = measure(kind, a.connections, a.size, a.sends, a.rate, cores)
        total = r["user_us"] + r["system_us"]
        print(f"{'loopback TCP' if kind == 'tcp' else 'Unix socket pair':17} "
              f"{r['sends']:,} sends at {r['per_s']:,.0f}/s: kernel {r['system_us']:.2f} us "
              f"+ Python loop {r['user_us']:.2f} us = {total:.2f} us per send; "
              f"100,000 frames/s would take {total * 10:.0f} % of a core"
              + (f" ({r['blocked']:,} sends found a full buffer)" if r["blocked"] else ""))


if __name__ == "__main__":
    main()
