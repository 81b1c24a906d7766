"""Who is online in a cluster, kept in Redis: the registry of the Redis SessionBus.

Keys (``P`` is the bus's prefix): ``P o:{session}`` the set of online users, ``P
c:{session}:{user}`` the user's live connections (``process:conn``), ``P p:{session}`` hash
user -> presence fields (JSON), ``P held:{process}`` what a process holds (so that a
survivor can remove it when the process dies). Arrivals and departures count connections
cluster-wide in one script each; presence changes are merged behind (every
``PRESENCE_WRITE`` seconds) into the presence of users who are online. The process keeps
its own connections and their users' presence, to register them again after Redis lost its
state or the others took this process for dead (``restore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from relay.core.ports import Fields

log = logging.getLogger("relay.bus")

PRESENCE_WRITE = 0.1  # seconds between write-behinds of presence changes to the registry

_ARRIVE = """
redis.call('SADD', KEYS[4], ARGV[4])
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 1 and redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  return 1
end
return 0
"""

_DEPART = """
redis.call('SREM', KEYS[4], ARGV[3])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] P o:{session}, KEYS[2] P p:{session}; ARGV pairs of user, changed fields (JSON):
# merged into the presence of users who are online (an offline user's is not kept).
_MERGE = """
for i = 1, #ARGV, 2 do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    local cur = redis.call('HGET', KEYS[2], ARGV[i])
    local fields = cur and cjson.decode(cur) or {}
    for k, v in pairs(cjson.decode(ARGV[i + 1])) do fields[k] = v end
    redis.call('HSET', KEYS[2], ARGV[i], cjson.encode(fields))
  end
end
return 0
"""


class RedisRegistry:
    def __init__(self, redis: Any, key: Callable[..., str], process_id: str) -> None:
        self.r = redis
        self._k = key
        self.id = process_id
        # this process's live connections and their users' latest presence, registered
        # again after Redis lost its state: session -> user -> (conns, fields)
        self._mine: dict[str, dict[str, tuple[set[int], Fields]]] = {}
        # presence changes not yet merged into the registry: session -> user -> fields
        self._dirty: dict[str, dict[str, Fields]] = {}
        self._arrive = redis.register_script(_ARRIVE)
        self._depart = redis.register_script(_DEPART)

    def note(self, session_id: str, user_id: str, fields: Fields) -> None:
        """A presence change published by this process: merged behind (the hot path)."""
        mine = self._mine.get(session_id)
        if mine is not None:
            held = mine.get(user_id)
            if held is not None:
                held[1].update(fields)
        users = self._dirty.get(session_id)
        if users is None:
            users = self._dirty[session_id] = {}
        changed = users.get(user_id)
        if changed is None:
            users[user_id] = dict(fields)
        else:
            changed.update(fields)

    async def arrive(self, session_id: str, user_id: str, conn: int, fields: Fields) -> bool:
        users = self._mine.setdefault(session_id, {})
        if user_id in users:
            users[user_id][0].add(conn)
        else:
            users[user_id] = ({conn}, dict(fields))
        try:
            return await self._register(session_id, user_id, conn, fields)
        except (RedisError, OSError) as exc:
            log.warning("redis: arrival not registered (%s)", exc)
            return True

    async def _register(self, session_id: str, user_id: str, conn: int,
                        fields: Fields) -> bool:
        member = f"{self.id}:{conn}"
        held = json.dumps(["c", session_id, user_id, member])
        first = await self._arrive(
            keys=[self._k("c", session_id, user_id), self._k("o", session_id),
                  self._k("p", session_id), self._k("held", self.id)],
            args=[member, user_id, json.dumps(fields), held])
        return bool(first)

    async def depart(self, session_id: str, user_id: str, conn: int) -> bool:
        users = self._mine.get(session_id)
        if users is not None and user_id in users:
            users[user_id][0].discard(conn)
            if not users[user_id][0]:
                del users[user_id]
                if not users:
                    del self._mine[session_id]
        member = f"{self.id}:{conn}"
        held = json.dumps(["c", session_id, user_id, member])
        try:
            last = await self._depart(
                keys=[self._k("c", session_id, user_id), self._k("o", session_id),
                      self._k("p", session_id), self._k("held", self.id)],
                args=[member, user_id, held])
        except (RedisError, OSError) as exc:
            log.warning("redis: departure not registered (%s)", exc)
            last = 1
        if last:
            self._dirty.get(session_id, {}).pop(user_id, None)
        return bool(last)

    async def online(self, session_id: str) -> set[str]:
        try:
            return {str(u) for u in await self.r.smembers(self._k("o", session_id))}
        except (RedisError, OSError):
            return set()  # Redis away: nobody counts as online (session_full lets joins in)

    async def presence(self, session_id: str) -> dict[str, Fields]:
        found: dict[str, Fields] = {}
        with contextlib.suppress(RedisError, OSError):
            raw = await self.r.hgetall(self._k("p", session_id))
            for uid, text in raw.items():
                with contextlib.suppress(ValueError):
                    found[str(uid)] = json.loads(text)
        for uid, changed in self._dirty.get(session_id, {}).items():
            if uid in found:  # changes not merged yet
                found[uid].update(changed)
        return found

    async def restore(self, came: list[tuple[str, str, Fields]]) -> None:
        """Register this process's connections again (Redis may have restarted empty, or
        the others took this process for dead). Appends to ``came`` the users who come
        online by it, as it goes: (session, user, their presence fields). A failure part
        way leaves the ones registered before it in ``came``; a later call registers the
        rest and appends them."""
        for session_id, users in list(self._mine.items()):
            for user_id, (conns, fields) in list(users.items()):
                for conn in list(conns):
                    if await self._register(session_id, user_id, conn, fields):
                        came.append((session_id, user_id, dict(fields)))

    async def writer(self) -> None:
        """Merge presence changes behind, every PRESENCE_WRITE seconds (a task)."""
        while True:
            await asyncio.sleep(PRESENCE_WRITE)
            try:
                await self.write_presence()
            except (RedisError, OSError) as exc:
                log.debug("presence not written (%s)", exc)

    async def write_presence(self) -> None:
        """Merge what changed into the registry (only users who are online)."""
        dirty, self._dirty = self._dirty, {}
        if not dirty:
            return
        pipe = self.r.pipeline(transaction=False)
        for session_id, users in dirty.items():
            args: list[str] = []
            for user_id, fields in users.items():
                args += [user_id, json.dumps(fields)]
            pipe.eval(_MERGE, 2, self._k("o", session_id), self._k("p", session_id), *args)
        try:
            await pipe.execute()
        except (RedisError, OSError):
            for session_id, users in dirty.items():  # newer changes win
                mine = self._dirty.setdefault(session_id, {})
                for user_id, fields in users.items():
                    mine[user_id] = {**fields, **mine.get(user_id, {})}
            raise
