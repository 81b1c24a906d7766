"""One benchmark participant: its connection, its cursor, and what it saw of its peers.

``Client.on_message`` is the generator's hot path: at the target load the
600 clients together receive about 108,000 peer updates per second on one
core. Presence frames (either encoding: ``presence``, or the compact ``p``) are
read with three regular expressions instead of a JSON parse whenever every peer
entry in the frame has exactly one user id, one caret and one send time (checked
by counting), and fully parsed otherwise.

Chat (when the run sends it): a ``chat_send`` carries its send time and the sender's
relay in its text (``t<time> r<relay>``); the sender times its ``ack``, every other
member times the ``chat_created`` event and knows from the relay numbers whether the
message crossed from one relay to another.
"""

from __future__ import annotations

import json
import re
import time
from array import array
from collections import Counter
from typing import Any

from lean_ws import WsConn, WsError

_perf = time.perf_counter
_OFFSET = time.time() - _perf()


def clock() -> float:
    """Monotonic seconds on the UNIX epoch scale, shared by senders and receivers: the
    generator's worker processes are forked after the offset is fixed, and
    perf_counter is CLOCK_MONOTONIC, one clock for every process on the machine."""
    return _perf() + _OFFSET


INF = float("inf")
_loads = json.loads
_dumps = json.dumps
# Presence frames are read without building JSON objects when every peer entry has
# exactly one user id, one caret and one send time; any other frame is parsed fully.
_PRESENCE = b'"type":"presence"'
_RX_UID = re.compile(rb'"user_id":"([^"\\]*)"')
_RX_LINE = re.compile(rb'"active":\{"line":(\d+)')
_RX_SENT = re.compile(rb'"sent_at":([-0-9.eE+]+)')
# The compact encoding (presence encoding 2): {"type":"p","s":...,"p":[{"c":[path,[anchor
# line, anchor character, active line, ...]],"t":sent_at,"u":user id}]}
_COMPACT = b'{"type":"p",'
_RX_CUID = re.compile(rb'"u":"([^"\\]*)"')
_RX_CLINE = re.compile(rb'"c":\["(?:[^"\\]|\\.)*",\[\d+,\d+,(\d+)')
_RX_CSENT = re.compile(rb'"t":([-0-9.eE+]+)')


# ---------------------------------------------------------------------------
# Figures collected while running


class Stats:
    """Counters shared by every client (one process, one thread)."""

    def __init__(self) -> None:
        self.ws = INF  # measured window start (clock)
        self.we = INF  # measured window end
        self.sent = 0  # cursor updates sent inside the window
        self.delivered = 0  # peer cursor updates received that were sent in the window
        self.presence_frames_win = 0  # presence frames received during the window
        self.peer_updates_win = 0  # peer entries received during the window
        self.presence_bytes_win = 0  # payload bytes of those presence frames
        self.slow_frames = 0  # presence frames that needed a full JSON parse
        self.latencies = array("d")
        self.send_lag = array("d")
        self.echoes = 0
        self.reorders = 0
        self.duplicates = 0
        self.errors: Counter[str] = Counter()
        self.other: Counter[str] = Counter()
        self.chat_sent = 0  # chat messages sent inside the window
        self.chat_sent_all = 0  # all chat messages sent
        self.chat_acked_all = 0  # acks received for them
        self.chat_events_all = 0  # chat_created events received from peers
        self.chat_ack = array("d")  # send -> ack, messages sent inside the window
        self.chat_same = array("d")  # send -> event at a member on the sender's relay
        self.chat_cross = array("d")  # send -> event at a member on another relay


class Client:
    """One participant: one relay connection; sends its cursor and tracks its peers'."""

    def __init__(self, index: int, username: str, stats: Stats) -> None:
        self.stats = stats
        self.index = index
        self.username = username
        self.user_id = username
        self.uid_b = username.encode()
        self.token = ""
        self.conn = WsConn(self.on_message)
        self.session_id = ""
        self.peers: list[Client] = []
        self.last: dict[bytes, int] = {}  # peer user id -> last caret line seen
        self.line = -1  # last caret line sent
        self.tmpl = b""
        self.inbox: list[dict[str, Any]] = []  # replies and notices (not presence)
        self.next_rid = 0
        self.relay = 0  # index of the relay this client is connected to
        self.chats = 0  # chat messages sent
        self.chat_pending: dict[str, float] = {}  # chat id -> send time, until acked

    # -- receiving (the hot path) ---------------------------------------------

    def on_message(self, payload: bytes, now: float) -> None:
        if payload.startswith(_COMPACT):
            uids = _RX_CUID.findall(payload)
            lines = _RX_CLINE.findall(payload)
            sents = _RX_CSENT.findall(payload)
            n = len(uids)
            if n == len(lines) == len(sents) == payload.count(b'"u":') and n:
                self._peers(zip(uids, map(int, lines), map(float, sents), strict=True),
                            n, now, len(payload))
                return
            d = _loads(payload)
            self.stats.slow_frames += 1
            self._peers(self._slow_compact(d["p"]), len(d["p"]), now, len(payload))
            return
        if _PRESENCE in payload:
            uids = _RX_UID.findall(payload)
            lines = _RX_LINE.findall(payload)
            sents = _RX_SENT.findall(payload)
            n = len(uids)
            if n == len(lines) == len(sents) == payload.count(b'"user_id"') and n:
                self._peers(zip(uids, map(int, lines), map(float, sents), strict=True),
                            n, now, len(payload))
                return
            d = _loads(payload)
            if d.get("type") == "presence":
                self.stats.slow_frames += 1
                self._peers(self._slow_peers(d["peers"]), len(d["peers"]), now, len(payload))
                return
        else:
            d = _loads(payload)
        kind = d.get("type")
        if kind == "ack" and d.get("id") in self.chat_pending:
            self._chat_acked(self.chat_pending.pop(d["id"]), now)
            return
        if kind == "event" and d.get("kind") == "chat_created":
            self._chat_event(d["message"], now)
            return
        if kind == "error" and "rid" not in d:
            self.stats.errors[str(d.get("code"))] += 1
        self.inbox.append(d)

    def _chat_acked(self, sent_at: float, now: float) -> None:
        st = self.stats
        st.chat_acked_all += 1
        if st.ws <= sent_at < st.we:
            st.chat_ack.append(now - sent_at)

    def _chat_event(self, message: dict[str, Any], now: float) -> None:
        if message["author"]["id"] == self.user_id:
            return  # our own message, back to this connection as to every member
        st = self.stats
        st.chat_events_all += 1
        stamp, relay = message["text"].split()
        sent_at = float(stamp[1:])
        if st.ws <= sent_at < st.we:
            (st.chat_same if int(relay[1:]) == self.relay else st.chat_cross).append(
                now - sent_at)

    @staticmethod
    def _slow_peers(peers: list[dict[str, Any]]) -> list[tuple[bytes, int, float]]:
        out = []
        for p in peers:
            c = p.get("cursor")
            if c is None:
                continue
            sent_at = p.get("sent_at")
            out.append((p["user_id"].encode(), c["selections"][0]["active"]["line"],
                        -1.0 if sent_at is None else float(sent_at)))
        return out

    @staticmethod
    def _slow_compact(peers: list[dict[str, Any]]) -> list[tuple[bytes, int, float]]:
        out = []
        for p in peers:
            c = p.get("c")
            if c is None:
                continue
            sent_at = p.get("t")
            out.append((p["u"].encode(), c[1][2], -1.0 if sent_at is None else float(sent_at)))
        return out

    def _peers(self, entries: Any, n: int, now: float, size: int) -> None:
        st = self.stats
        ws, we = st.ws, st.we
        if ws <= now < we:
            st.presence_frames_win += 1
            st.peer_updates_win += n
            st.presence_bytes_win += size
        last = self.last
        me = self.uid_b
        lat_append = st.latencies.append
        delivered = 0
        for uid, line, sent_at in entries:
            if uid == me:
                st.echoes += 1
                continue
            prev = last.get(uid, -1)
            if line <= prev:
                if line == prev:
                    st.duplicates += 1
                else:
                    st.reorders += 1
            last[uid] = line
            if ws <= sent_at < we:
                delivered += 1
                lat_append(now - sent_at)
        st.delivered += delivered

    # -- requests during setup (blocking) --------------------------------------

    def send(self, msg: dict[str, Any]) -> str:
        self.next_rid += 1
        rid = msg["rid"] = f"r{self.next_rid}"
        self.conn.send_text(_dumps(msg).encode())
        return rid

    def reply(self, rid: str, timeout: float = 60.0) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def done() -> bool:
            for i, d in enumerate(self.inbox):
                if d.get("rid") == rid:
                    found.append(self.inbox.pop(i))
                    return True
            return False

        self.conn.pump(done, timeout)
        d = found[0]
        if d.get("type") == "error":
            raise WsError(f"request refused for {self.username}: {d.get('code')}: "
                             f"{d.get('message')}")
        return d

    def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.reply(self.send(msg))

    def drain_inbox(self) -> None:
        for d in self.inbox:
            self.stats.other[str(d.get("type"))] += 1
        self.inbox.clear()

    # -- sending ---------------------------------------------------------------

    def prepare_cursor(self) -> None:
        path = f"src/module_{self.index % 50:02d}.py"
        head = _dumps({"type": "cursor", "session_id": self.session_id, "path": path})[:-1]
        sel = (',"selections":[{"anchor":{"line":%d,"character":%d},'
               '"active":{"line":%d,"character":%d}}],"sent_at":%.6f}')
        self.tmpl = (head + sel).encode()

    def send_chat(self, sent_at: float) -> None:
        self.chats += 1
        chat_id = f"{self.username}-{self.chats}"
        self.chat_pending[chat_id] = sent_at
        self.conn.send_text(_dumps({"type": "chat_send", "id": chat_id,
                                    "session_id": self.session_id,
                                    "text": f"t{sent_at:.6f} r{self.relay}"}).encode())
        st = self.stats
        st.chat_sent_all += 1
        if st.ws <= sent_at < st.we:
            st.chat_sent += 1

    def send_cursor(self, sent_at: float) -> None:
        self.line = line = self.line + 1
        ch = line % 80
        self.conn.send_text(self.tmpl % (line, ch, line, ch, sent_at))
