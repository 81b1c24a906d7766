"""Which relay processes are alive, kept in Redis: the liveness of the Redis SessionBus.

Keys (``P`` is the bus's prefix): ``P alive:{process}`` with a TTL (``ttl``), refreshed by
every heartbeat (every ``beat`` seconds); ``P procs`` the set of processes; ``P
held:{process}`` what a process holds (its connections, written by the registry, and its
sessions, written by the bus), so that when it dies one survivor (``P reap:{process}``,
SET NX) removes them and the departures are announced once.

The steady-contact rule: only a process whose own heartbeats have landed on time for a
liveness timeout judges another dead. After Redis stalled (or this process did), every
process's heartbeats failed alike: a live process's key may have expired and not be
refreshed yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger("relay.bus")

LIVENESS_TTL = 5.0  # a process not seen for this long is dead; its users depart

# KEYS[1] P held:{process}; ARGV[1] the prefix, ARGV[2] the process. Removes what the
# process held; returns the [session, user] pairs that went offline with it.
_REAP = """
local gone = {}
for _, item in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = cjson.decode(item)
  if h[1] == 'c' then
    local conns = ARGV[1] .. 'c:' .. h[2] .. ':' .. h[3]
    if redis.call('SREM', conns, h[4]) == 1 and redis.call('SCARD', conns) == 0 then
      redis.call('SREM', ARGV[1] .. 'o:' .. h[2], h[3])
      redis.call('HDEL', ARGV[1] .. 'p:' .. h[2], h[3])
      table.insert(gone, cjson.encode({h[2], h[3]}))
    end
  else
    redis.call('SREM', ARGV[1] .. 'r:' .. h[2], ARGV[2])
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. 'procs', ARGV[2])
return gone
"""

Check = Callable[[], Awaitable[None]]
Departed = Callable[[str, str], Awaitable[None]]


class RedisLiveness:
    def __init__(self, redis: Any, key: Callable[..., str], prefix: str, process_id: str, *,
                 beat: float, ttl: float = LIVENESS_TTL) -> None:
        self.r = redis
        self._k = key
        self.prefix = prefix
        self.id = process_id
        self.beat = beat
        self.ttl = ttl
        # When this process's heartbeats last started landing on time (event loop clock),
        # and when the last one landed: see landed() and steady().
        self.steady_since = 0.0
        self.last_alive: float | None = None
        self._reap = redis.register_script(_REAP)

    async def alive(self) -> None:
        """Refresh this process's liveness key, and count the heartbeat as landed."""
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self._k("alive", self.id), "1", px=int(self.ttl * 1000))
        pipe.sadd(self._k("procs"), self.id)
        await pipe.execute()
        self.landed()

    def landed(self) -> None:
        """A heartbeat of this process landed. After a gap (Redis stalled or away, or this
        process stalled), the others' heartbeats may have failed just as this one's did:
        their liveness keys may have expired with the process still running, and a key
        refreshed after the gap may not be there yet. So the gap starts a new steady
        period."""
        now = asyncio.get_running_loop().time()
        if self.last_alive is None or now - self.last_alive > 2 * self.beat:
            self.steady_since = now
        self.last_alive = now

    def steady(self) -> bool:
        """In steady contact with Redis for a liveness timeout: every process alive in that
        time has refreshed its key, so a key that is missing now means a dead process."""
        return asyncio.get_running_loop().time() - self.steady_since >= self.ttl

    async def heartbeat(self, check: Check, departed: Departed) -> None:
        """Every ``beat`` seconds (a task): refresh this process's key, run the bus's
        periodic ``check``, and, in steady contact, reap the dead (``departed`` is called
        for each user who went offline with them)."""
        while True:
            await asyncio.sleep(self.beat)
            try:
                await self.alive()
                await check()
                if self.steady():
                    await self.reap_dead(departed)
            except (RedisError, OSError) as exc:
                log.warning("redis heartbeat failed (%s)", exc)
            except Exception:
                log.exception("bus heartbeat step failed")

    async def reap_dead(self, departed: Departed) -> None:
        """Remove what each process whose key is gone held (one survivor per process)."""
        procs = [str(p) for p in await self.r.smembers(self._k("procs"))]
        others = [p for p in procs if p != self.id]
        if not others:
            return
        alive = await self.r.exists(*[self._k("alive", p) for p in others])
        if alive == len(others):
            return
        for proc in others:
            if await self.r.exists(self._k("alive", proc)):
                continue
            if not await self.r.set(self._k("reap", proc), self.id, nx=True, ex=60):
                continue  # another process reaps it
            gone = await self._reap(keys=[self._k("held", proc)], args=[self.prefix, proc])
            log.info("relay process gone", extra={"relay_process": proc, "users": len(gone)})
            for item in gone:
                session_id, user_id = json.loads(item)
                await departed(session_id, user_id)

    async def leave(self) -> None:
        """Remove what this process holds and its key at once (closing): else the others
        reap it after its TTL."""
        await self._reap(keys=[self._k("held", self.id)], args=[self.prefix, self.id])
        await self.r.delete(self._k("alive", self.id))
