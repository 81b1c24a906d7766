"""Setup of a load run, outside the measured window: sign up, connect and join R sessions
of C clients, on one relay or on the several relays of a cluster (which share one store).

Plain blocking request/response in one process, before the generator forks.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from lean_ws import WsConn
from participant import Client, Stats
from relay_proc import Relay

if TYPE_CHECKING:
    from cursor_load import Config

PROTOCOL_VERSION = 1


def chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def hello(c: Client, presence: int = 1) -> str:
    return c.send({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "cursor_load",
                   "presence": presence})


Route = Any  # (session id, member index) -> index of the relay that member connects to


def setup(cfg: Config, relays: list[Relay], st: Stats, log: Any,
          route: Route = None) -> list[list[Client]]:
    """Sign up, connect and join R sessions of C clients; returns the sessions' clients.

    With several relays (a cluster sharing one store), sign-ups go round the relays, each
    session is created on relay r mod K, and then every member connects to the relay
    ``route(session id, member index)`` names (a host routed elsewhere reconnects there).
    """
    route = route or (lambda sid, i: 0)
    tag = "".join(random.choices("abcdefghjkmnpqrstuvwxyz", k=4))
    password = f"bench-password-{tag}-0123456789"
    n = cfg.sessions * cfg.clients
    clients = [Client(i, f"lb{tag}{i:05d}", st) for i in range(n)]
    t = time.monotonic()
    for group in chunks(clients, cfg.batch):
        rids = []
        for c in group:
            relay = relays[c.index % len(relays)]
            c.conn.connect(relay.host, relay.port, "/auth", {})
            rids.append((hello(c), c.send({"type": "sign_up", "username": c.username,
                                            "password": password})))
        for c, (h, s) in zip(group, rids, strict=True):
            c.reply(h)
            ok = c.reply(s)
            c.token = ok["token"]
            c.user_id = ok.get("user", {}).get("id", c.username)
            c.uid_b = c.user_id.encode()
            c.conn.close()
            c.conn = WsConn(c.on_message)
            c.inbox.clear()
    log(f"signed up {n} users in {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    sessions = chunks(clients, cfg.clients)
    for r, members in enumerate(sessions):
        members[0].relay = r % len(relays)
    _open(cfg, relays, [m[0] for m in sessions])
    invites = []
    moved = set()  # sessions whose host reconnected to the relay its route names
    for r, members in enumerate(sessions):
        host = members[0]
        state = host.request({"type": "session_create", "name": f"bench {r}",
                              "repo": {"name": "bench", "remote": f"example.org/bench/{r}"}})
        sid = state["session"]["session_id"]
        inv = host.request({"type": "invite_create", "session_id": sid, "role": "editor"})
        invites.append(inv["invite"]["token"])
        for i, m in enumerate(members):
            m.session_id = sid
            m.relay, was = route(sid, i), m.relay
            if i == 0 and m.relay != was:
                m.conn.close()
                m.conn = WsConn(m.on_message)
                moved.add(r)
    _open(cfg, relays, [m for s in sessions for m in s if m.conn.sock is None])
    log(f"created {cfg.sessions} sessions, opened {n} connections in "
        f"{time.monotonic() - t:.1f}s")
    t = time.monotonic()
    for r, (members, token) in enumerate(zip(sessions, invites, strict=True)):
        rids = [(m, m.send({"type": "session_join", "session_id": m.session_id}
                           if i == 0 else {"type": "session_join", "invite": token}))
                for i, m in enumerate(members) if i or r in moved]
        for m, rid in rids:
            m.reply(rid)
        for m in members:
            m.peers = [p for p in members if p is not m]
            m.prepare_cursor()
    log(f"joined {cfg.sessions} sessions of {cfg.clients} in {time.monotonic() - t:.1f}s")
    return sessions


def _open(cfg: Config, relays: list[Relay], clients: list[Client]) -> None:
    """Open the /ws connection of each client to its relay and say hello, in batches."""
    for group in chunks(clients, cfg.batch):
        rids = []
        for c in group:
            relay = relays[c.relay]
            c.conn.connect(relay.host, relay.port, "/ws", {"Authorization": f"Bearer {c.token}"})
            rids.append(hello(c, cfg.presence))
        for c, h in zip(group, rids, strict=True):
            c.reply(h)
