"""What the daemon knows of its relay, in one object.

``RelayState`` holds the account (relay URLs, the one in use, token, user), the
connection's state as the editor is told it, and the current session: the mirror
(``daemon.session.mirror``: session, our role, participants, presence, chat, threads,
last seq), the session to rejoin after a reconnect, whether it is joined on the current
connection, the repository check and the peer we follow. Anyone may read it; it changes
only through its methods, which ``daemon.session.membership``, ``daemon.session.frames``
and ``daemon.session.client`` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from daemon.errors import NotInSession, NotSignedIn
from daemon.session.mirror import Change, SessionMirror
from wire import Event, Participant, PresenceUpdate, RepoIdentity, SessionState, Status, UserRef

if TYPE_CHECKING:
    from daemon.session.connection import RelayConnection

ConnState = Literal["signed_out", "connecting", "online", "offline"]


class RelayState:
    """Account, connection state and current session of one daemon."""

    def __init__(self, relay_urls: list[str], token: str | None) -> None:
        assert relay_urls, "no relay URL"
        self.relay_urls = list(relay_urls)  # the relays to use, in the configured order
        self.relay_url = relay_urls[0]  # the one connected, or being tried
        self.token = token
        self.user: UserRef | None = None
        self.conn_state: ConnState = "signed_out"
        self.next_retry_at: float | None = None
        self.detail: str | None = None
        self.mirror: SessionMirror | None = None
        self.want_session: str | None = None  # the session to (re)join when online
        # (connection, session id) once joined on that connection: durable actions go
        # out directly only then; before, the flush after the join sends them
        self.joined: tuple[RelayConnection, str] | None = None
        self.local_repo: RepoIdentity | None = None
        self.repo_mismatch = False
        self.following: str | None = None

    @property
    def session_id(self) -> str | None:
        return self.mirror.session_id if self.mirror is not None else None

    def require_session(self) -> SessionMirror:
        if not self.token:
            raise NotSignedIn("sign in first")
        if self.mirror is None:
            raise NotInSession("join or create a session first")
        return self.mirror

    # ----- account and connection -------------------------------------------------------

    @property
    def home_url(self) -> str:
        """The first configured relay: names the relays in invite links."""
        return self.relay_urls[0]

    def signed_in(self, relay_urls: list[str], relay_url: str, token: str,
                  user: UserRef) -> None:
        self.relay_urls = list(relay_urls)
        self.relay_url = relay_url
        self.token = token
        self.user = user

    def signed_out(self) -> None:
        self.token = None
        self.user = None

    def at_relay(self, url: str) -> None:
        """The connection is at (or trying) relay ``url``."""
        self.relay_url = url

    def welcomed(self, user: UserRef | None) -> None:
        """The relay's welcome says who we are."""
        self.user = user

    def set_connection(self, state: ConnState, retry_at: float | None, detail: str | None, *,
                       token_refused: bool = False) -> None:
        """The connection's new state; ``token_refused``: the relay will never take the
        token, so it is forgotten. Off line, nothing is joined any more."""
        self.conn_state = state
        self.next_retry_at = retry_at
        self.detail = detail
        if token_refused:
            self.token = None
        if state != "online":
            self.joined = None

    # ----- the current session ----------------------------------------------------------

    def want(self, session_id: str | None) -> None:
        """The session to join when online (from the outbox's resume state)."""
        self.want_session = session_id

    def adopt(self, frame: SessionState, *, keep: bool) -> tuple[SessionMirror, Change, bool]:
        """Make ``frame`` (a ``session_state``) the current session: the mirror, what the
        editor must be told, and whether the mirror is a new one (another session, or
        ``keep`` false)."""
        same = self.mirror is not None and self.mirror.session_id == frame.session.session_id
        if same and keep and self.mirror is not None:
            mirror = self.mirror
            change = mirror.load(frame)
            replaced = False
        else:
            mirror = self.mirror = SessionMirror(frame)
            change = Change(chat=sorted(frame.chat, key=lambda m: m.seq),
                            threads=list(mirror.threads.values()), participants=True)
            replaced = True
        self.want_session = frame.session.session_id
        return mirror, change, replaced

    def joined_on(self, conn: RelayConnection, session_id: str) -> None:
        self.joined = (conn, session_id)

    def drop(self) -> bool:
        """Forget the current session; False when there was none."""
        if self.mirror is None and self.want_session is None:
            return False
        self.mirror = None
        self.want_session = None
        self.joined = None
        return True

    def set_local_repo(self, repo: RepoIdentity) -> None:
        self.local_repo = repo

    def set_repo_mismatch(self, mismatch: bool) -> None:
        self.repo_mismatch = mismatch

    def follow(self, user_id: str | None) -> None:
        self.following = user_id

    def set_own_status(self, status: Status) -> bool:
        """Our own status on our row; True when it changed."""
        if self.mirror is None or self.mirror.you.status == status:
            return False
        self.mirror.you.status = status
        return True

    # ----- what the relay pushes --------------------------------------------------------

    def _current(self, session_id: str) -> SessionMirror | None:
        m = self.mirror
        return m if m is not None and m.session_id == session_id else None

    def apply_event(self, ev: Event) -> Change | None:
        """A durable event; None when it is not of the current session."""
        m = self._current(ev.session_id)
        return m.apply(ev) if m is not None else None

    def merge_presence(self, update: PresenceUpdate) -> bool:
        """Peers' presence; True when something visible changed."""
        m = self._current(update.session_id)
        if m is None:
            return False
        changed = [m.merge_presence(p) for p in update.peers]
        return any(changed)

    def user_joined(self, session_id: str, participant: Participant) -> bool:
        """A participant came online; False when not in the current session."""
        m = self._current(session_id)
        if m is None:
            return False
        m.set_online(participant.user.id, participant, True)
        return True

    def user_left(self, user_id: str, *, removed: bool) -> None:
        """A participant of the current session went offline, or was removed."""
        if self.mirror is None:
            return
        if removed:
            self.mirror.remove(user_id)
        else:
            self.mirror.set_online(user_id, None, False)
