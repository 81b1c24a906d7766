"""Position encodings end to end: a UTF-8 client and a UTF-16 client see each other's
carets at the same character on a line with emoji and accents."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from daemon.protocol import Method

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]

LINE = '    s = "😀 héllo 中"; x = 1'
CODE = f"def f():\n{LINE}\n    return s\n"
X_INDEX = LINE.index("x")  # code points
X_UTF8 = len(LINE[:X_INDEX].encode("utf-8"))
X_UTF16 = len(LINE[:X_INDEX].encode("utf-16-le")) // 2


async def _signed_up(make: Any, relay: Any, name: str, tmp_path: Path, **opts: Any) -> Any:
    ws = tmp_path / f"ws-{name}"
    ws.mkdir()
    (ws / "app.py").write_text(CODE, encoding="utf-8")
    client = await make(name, relay.url, workspace=ws, **opts)
    await client.request(Method.SIGN_UP, {"username": name, "password": "correct horse 1",
                                          "display_name": name.title()})
    await client.wait_for(Method.DID_CHANGE_CONNECTION, lambda p: p["state"] == "online")
    return client


def _caret(line: int, character: int) -> dict[str, Any]:
    pos = {"line": line, "character": character}
    return {"anchor": pos, "active": pos}


def _peer_at(user: str, character: int, approximate: bool = False) -> Any:
    def check(p: Any) -> bool:
        return any(
            v["user"]["id"] == user and v.get("selections")
            and v["selections"][0]["active"] == {"line": 1, "character": character}
            and v.get("approximate", False) is approximate
            for v in p["peers"]
        )
    return check


async def test_utf8_and_utf16_clients_agree_on_carets_after_multibyte_text(
    daemons: Any, relay: Any, tmp_path: Path
) -> None:
    """Alice (UTF-8 only) puts her caret before 'x'; Bob (UTF-16) sees it before 'x' in
    UTF-16 units, as a peer and as an inlay hint, and the reverse holds too."""
    assert X_UTF8 != X_UTF16  # the line really needs conversion
    alice = await _signed_up(daemons, relay, "alice", tmp_path, encodings=["utf-8"])
    bob = await _signed_up(daemons, relay, "bob", tmp_path)
    await alice.request(Method.CREATE_SESSION, {"name": "encodings"})
    invite = await alice.request(Method.CREATE_INVITE, {"role": "editor"})
    await bob.request(Method.JOIN_SESSION, {"invite": invite["token"]})
    a_uri = await alice.open("app.py")
    b_uri = await bob.open("app.py")

    alice.notify(Method.CURSOR, {"uri": a_uri, "selections": [_caret(1, X_UTF8)]})
    await bob.wait_for(Method.DID_CHANGE_PEERS, _peer_at("alice", X_UTF16))

    params = lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri=b_uri),
        range=lsp.Range(start=lsp.Position(line=0, character=0),
                        end=lsp.Position(line=3, character=0)),
    )
    raw = await asyncio.wait_for(bob.client.text_document_inlay_hint_async(params), 20)
    hints = bob.client.protocol._converter.unstructure(raw)
    assert [(h["position"], h["label"]) for h in hints] == [
        ({"line": 1, "character": X_UTF16}, "◀ Alice")
    ]

    bob.notify(Method.CURSOR, {"uri": b_uri, "selections": [_caret(1, X_UTF16)]})
    await alice.wait_for(Method.DID_CHANGE_PEERS, _peer_at("bob", X_UTF8))


async def test_caret_in_a_file_that_differs_locally_is_approximate(
    daemons: Any, relay: Any, tmp_path: Path
) -> None:
    """When Bob's copy of the file differs from Alice's, her caret is marked approximate."""
    alice = await _signed_up(daemons, relay, "alice", tmp_path)
    bob = await _signed_up(daemons, relay, "bob", tmp_path)
    await alice.request(Method.CREATE_SESSION, {"name": "diverged"})
    invite = await alice.request(Method.CREATE_INVITE, {"role": "editor"})
    await bob.request(Method.JOIN_SESSION, {"invite": invite["token"]})
    a_uri = await alice.open("app.py")
    await bob.open("app.py", "# local change\n" + CODE)
    alice.notify(Method.CURSOR, {"uri": a_uri, "selections": [_caret(1, X_UTF16)]})
    # clamped into Bob's text: his line 1 is "def f():", 8 characters
    await bob.wait_for(Method.DID_CHANGE_PEERS, _peer_at("alice", 8, approximate=True))


@pytest.mark.parametrize(
    ("offered", "expected"),
    [([], "utf-16"), (["utf-8", "utf-16"], "utf-16"), (["utf-32", "utf-8"], "utf-32"),
     (["utf-8"], "utf-8")],
)
async def test_daemon_negotiates_utf16_whenever_the_client_offers_it(
    tmp_path: Path, offered: list[str], expected: str
) -> None:
    """The initialize result names UTF-16 when offered at all, else the client's first
    supported choice (pygls alone would take a UTF-8-first client's UTF-8)."""
    client = LanguageClient("negotiation-test", "0")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    await client.start_io(sys.executable, "-m", "daemon", env=env, cwd=str(ROOT))
    try:
        general = lsp.GeneralClientCapabilities(
            position_encodings=[lsp.PositionEncodingKind(e) for e in offered]
        ) if offered else None
        result = await asyncio.wait_for(client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(general=general),
            root_uri=tmp_path.as_uri(),
            initialization_options={"relay_url": "ws://127.0.0.1:9", "data_dir": str(tmp_path)},
        )), 30)
        encoding = result.capabilities.position_encoding
        assert getattr(encoding, "value", encoding) == expected
    finally:
        proc = client._server
        try:
            await asyncio.wait_for(client.shutdown_async(None), 10)
            client.exit(None)
            if proc is not None:
                await asyncio.wait_for(proc.wait(), 10)
        finally:
            if proc is not None and proc.returncode is None:
                proc.kill()
            await asyncio.wait_for(client.stop(), 10)
