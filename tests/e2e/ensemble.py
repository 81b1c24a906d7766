"""User flows of the Ensemble extension, expressed through the workbench UI only.

Each flow runs commands from the palette and answers the input boxes and quick picks the
extension shows; prompts are recognised by their text, so the order of questions may change
without breaking the flows.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil

from tests.e2e.harness import ROOT, CodeServer, CodeServerFactory, SharedRepo, WindowOpener
from tests.e2e.vscode import TreeRow, VSCodeError, Workbench

PARTICIPANTS_VIEW = "Participants"
INVITE_LINK = re.compile(r"vscode://ensemble\.ensemble/join\?\S+")

Answer = str | Callable[[Workbench], None]


def answer_prompts(
    wb: Workbench,
    answers: list[tuple[str, Answer]],
    until: Callable[[], object],
    what: str,
    timeout: float = 60.0,
    min_answers: int = 0,
) -> None:
    """Answer every input box the extension opens until `until()` holds.

    `answers` maps a regex on the prompt (title, placeholder, message) to the text to type, or
    to a function that answers it (e.g. picks a row).
    """
    rules = [(re.compile(rx, re.I), a) for rx, a in answers]
    answered = 0

    def step() -> bool:
        nonlocal answered
        if answered >= min_answers and until():
            return True
        prompt = wb.quick_input_prompt()
        if prompt is None:
            return False
        for rx, answer in rules:
            if rx.search(prompt):
                if callable(answer):
                    answer(wb)
                else:
                    wb.answer_input(answer)
                answered += 1
                # The next question reuses the widget: wait until this one is gone.
                wb.wait_for(
                    lambda: wb.quick_input_prompt() != prompt,
                    f"the prompt {prompt!r} to close",
                    timeout=15,
                )
                return answered >= min_answers and bool(until())
        raise VSCodeError(f"{wb.name}: unexpected prompt {prompt!r} while {what}")

    wb.wait_for(step, what, timeout)


def pick_row(label: str | re.Pattern[str]) -> Callable[[Workbench], None]:
    return lambda wb: wb.pick(label)


def labelled(text: str) -> re.Pattern[str]:
    """A quick-pick label `text`, possibly after a $(icon) and followed by more words."""
    return re.compile(rf"(\$\([\w-]+\)\s*)?{re.escape(text)}.*", re.I)


def status_text(wb: Workbench) -> str:
    """The text of the extension's status bar items."""
    return " | ".join(i.text for i in wb.status_items() if i.id.startswith("ensemble."))


def sign_up(wb: Workbench, username: str, display_name: str, password: str = "s3cret-pass") -> None:
    """Ensemble: Sign Up, answering username / display name / password prompts."""
    wb.run_command("Ensemble: Sign Up")
    answer_prompts(
        wb,
        [
            (r"user ?name|account", username),
            (r"display|full name|your name|shown", display_name),
            (r"password", password),
        ],
        until=lambda: not wb.quick_input_visible() and _signed_in(wb),
        what=f"signing up {username}",
    )


def _signed_in(wb: Workbench) -> bool:
    """Signed in and connected: the status bar item reads "Ensemble: online"."""
    return "ensemble: online" in status_text(wb).lower()


def start_session(wb: Workbench, name: str) -> None:
    wb.run_command("Ensemble: Start Session")
    answer_prompts(
        wb,
        [(r"session|name", name)],
        until=lambda: not wb.quick_input_visible() and _in_session(wb),
        what=f"starting session {name}",
    )


def _in_session(wb: Workbench) -> bool:
    return bool(re.search(r"\d+ participants?", status_text(wb)))


def copy_invite_link(wb: Workbench, role: str = "Editor") -> str:
    """Ensemble: Copy Invite Link; the link is read from the information message it shows."""
    wb.run_command("Ensemble: Copy Invite Link")

    def link() -> str | None:
        for n in wb.notifications():
            m = INVITE_LINK.search(n.message)
            if m:
                return m.group(0)
        return None

    answer_prompts(
        wb,
        [(r"role|editor|viewer|invite", pick_row(labelled(role)))],
        until=link,
        what="copying an invite link",
    )
    return wb.wait_for(link, "the invite link in a notification")


def join_session(wb: Workbench, link: str) -> None:
    wb.run_command("Ensemble: Join Session")
    answer_prompts(
        wb,
        [(r"link|invite|paste|url", link)],
        until=lambda: not wb.quick_input_visible() and _in_session(wb),
        what="joining by link",
    )


def show_participants(wb: Workbench) -> None:
    if wb.tree_rows(PARTICIPANTS_VIEW) is None:
        wb.run_command("Ensemble: Focus on Participants View")
    wb.wait_for(lambda: wb.tree_rows(PARTICIPANTS_VIEW) is not None, "the participants view")


def wait_participant(
    wb: Workbench,
    name: str,
    extra: Callable[[TreeRow], bool] = lambda r: True,
    what: str = "",
    timeout: float = 30.0,
) -> TreeRow:
    return wb.wait_tree_row(
        PARTICIPANTS_VIEW,
        lambda r: r.label.startswith(name) and extra(r),
        what or f"participant {name}",
        timeout,
    )


def set_status(wb: Workbench, status: str) -> None:
    wb.run_command("Ensemble: Set Status")
    answer_prompts(
        wb,
        [(r"status|active|idle|away", pick_row(labelled(status)))],
        until=lambda: not wb.quick_input_visible(),
        what=f"setting status {status}",
        min_answers=1,
    )


def follow(wb: Workbench, name: str) -> None:
    wb.run_command("Ensemble: Follow Participant")
    answer_prompts(
        wb,
        [(r"follow|participant|who", pick_row(labelled(name)))],
        until=lambda: not wb.quick_input_visible(),
        what=f"following {name}",
        min_answers=1,
    )


def start_pair(
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    relay: Any,
    vsix: Path,
    bob_folder: Path | None = None,
) -> tuple[Workbench, Workbench]:
    """Alice hosts a session, Bob joins it by the invite link; both signed up through the UI.

    Bob opens his own copy of the shared repository, or ``bob_folder`` when given."""
    alice, bob, _, _ = start_pair_servers(code_server, browser, workspace, relay, vsix,
                                          bob_folder)
    return alice, bob


def start_pair_servers(
    code_server: CodeServerFactory,
    browser: WindowOpener,
    workspace: SharedRepo,
    relay: Any,
    vsix: Path,
    bob_folder: Path | None = None,
    env: dict[str, str] | None = None,
    bob_relay: Any | None = None,
) -> tuple[Workbench, Workbench, CodeServer, CodeServer]:
    """start_pair, also returning alice's and bob's code-servers (``env``: extra environment
    of both). ``bob_relay``: Bob's own relay of a cluster (Alice's is ``relay``); he then
    joins by the invite's bare token, as a link names Alice's relay."""
    alice_server = code_server("alice", relay_url=relay.url, vsix=vsix, env=env)
    bob_server = code_server("bob", relay_url=(bob_relay or relay).url, vsix=vsix, env=env)
    alice = browser(alice_server, workspace.copy_for("alice"))
    bob = browser(bob_server, bob_folder or workspace.copy_for("bob"))

    sign_up(alice, "alice", "Alice")
    start_session(alice, "pairing")
    link = copy_invite_link(alice, "Editor")

    sign_up(bob, "bob", "Bob")
    join_session(bob, link if bob_relay is None else invite_token(link))
    return alice, bob, alice_server, bob_server


def invite_token(link: str) -> str:
    """The invite token of an invite link (vscode://ensemble.ensemble/join?relay=...&invite=...)."""
    return parse_qs(urlsplit(link).query)["invite"][0]


def daemon_processes(server: CodeServer) -> list[psutil.Process]:
    """The Ensemble daemons (`python -m daemon`) running under one user's code-server."""
    found = []
    for p in psutil.Process(server.proc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmd = p.cmdline()
            if "-m" in cmd and "daemon" in cmd:
                found.append(p)
    return found


SCREENSHOTS = ROOT / "docs" / "img"


def screenshot(wb: Workbench, name: str, tmp_path: Path) -> None:
    """Saved from every run under tmp_path; into docs/img/ when ENSEMBLE_SCREENSHOTS=1."""
    wb.screenshot(str(tmp_path / name))
    if os.environ.get("ENSEMBLE_SCREENSHOTS", "") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        wb.screenshot(str(SCREENSHOTS / name))


def latency_summary(what: str, samples: list[float]) -> float:
    """Print p50, p95, min and max of latency samples (ms) as one line; return the p95."""
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18]
    print(f"\n{what} over {len(samples)} samples: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"min {samples[0]:.0f} ms, max {samples[-1]:.0f} ms")
    return p95
