"""Which relay processes are alive, kept in Redis: the liveness of the Redis SessionBus.

Keys (``P`` is the bus's prefix): ``P alive:{process}`` with a TTL (``ttl``), refreshed by
every heartbeat (every ``beat`` seconds); ``P procs`` the set of processes; ``P
held:{process}`` what a process holds (its connections, written by the registry, and its
sessions, written by the bus), so that when it dies one survivor removes them and the
departures are announced once; ``P reap:{process}`` (SET NX, kept ``MARK_TTL`` seconds) is
the mark of a process reaped, set in the same script as the reaping.

The steady-contact rule: only a process whose own heartbeats have landed on time for a
liveness timeout judges another dead. After Redis stalled (or this process did), every
process's heartbeats failed alike: a live process's key may have expired and not be
refreshed yet.

A process that was only stalled (longer than the liveness timeout) finds its mark when its
next heartbeat lands (``alive``): the others announced its users' departure, so the bus
registers them again and announces their arrival (the one that takes the mark, once).
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
MARK_TTL = 3600  # seconds a reaped process's mark stays (one stalled less long comes back)

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

# _REAP of another process, KEYS[2] P alive:{process}, KEYS[3] P reap:{process}, ARGV[3]
# the reaper, ARGV[4] MARK_TTL: only while its key is missing, marking it reaped, at once
# (nil: alive, or reaped by another).
_REAP_DEAD = """
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
if not redis.call('SET', KEYS[3], ARGV[3], 'NX', 'EX', ARGV[4]) then return false end
""" + _REAP

Step = Callable[[], Awaitable[None]]
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
        self._reap_dead = redis.register_script(_REAP_DEAD)

    async def alive(self) -> bool:
        """Refresh this process's liveness key, and count the heartbeat as landed. True when
        the others took this process for dead meanwhile (its mark is there)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self._k("alive", self.id), "1", px=int(self.ttl * 1000))
        pipe.sadd(self._k("procs"), self.id)
        pipe.exists(self._k("reap", self.id))
        res = await pipe.execute()
        self.landed()
        return bool(res[2])

    async def take_mark(self) -> bool:
        """Remove this process's mark of a reaping: True for the one call that found it."""
        return bool(await self.r.delete(self._k("reap", self.id)))

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

    async def heartbeat(self, check: Step, departed: Departed, revived: Step) -> None:
        """Every ``beat`` seconds (a task): refresh this process's key (``revived`` when
        this process was reaped meanwhile), run the bus's periodic ``check``, and, in
        steady contact, reap the dead (``departed`` for each user who went offline with
        them)."""
        while True:
            await asyncio.sleep(self.beat)
            try:
                if await self.alive():
                    await revived()
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
            gone = await self._reap_dead(
                keys=[self._k("held", proc), self._k("alive", proc), self._k("reap", proc)],
                args=[self.prefix, proc, self.id, MARK_TTL])
            if gone is None:
                continue  # alive again, or another process reaps it
            log.info("relay process gone", extra={"relay_process": proc, "users": len(gone)})
            for item in gone:
                session_id, user_id = json.loads(item)
                await departed(session_id, user_id)

    async def leave(self) -> None:
        """Remove what this process holds and its key at once (closing): else the others
        reap it after its TTL."""
        await self._reap(keys=[self._k("held", self.id)], args=[self.prefix, self.id])
        await self.r.delete(self._k("alive", self.id))
