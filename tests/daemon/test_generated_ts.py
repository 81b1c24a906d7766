"""The extension's protocol.generated.ts matches daemon/protocol.py and compiles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon import protocol
from daemon.gen_ts import OUTPUT, GenerationError, constant_name, generate
from tests import ci

ROOT = Path(__file__).resolve().parents[2]
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.gen_ts", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


def test_committed_file_is_up_to_date_with_the_python_protocol() -> None:
    """`python -m daemon.gen_ts --check` passes: no drift between Python and TypeScript."""
    result = _run("--check")
    assert result.returncode == 0, result.stderr


def test_check_fails_when_the_file_drifts(tmp_path: Path) -> None:
    """A hand-edited or stale file makes --check exit non-zero with a hint."""
    stale = tmp_path / "protocol.generated.ts"
    stale.write_text(OUTPUT.read_text(encoding="utf-8").replace("relay_url", "relayUrl"))
    result = _run("--check", "--output", str(stale))
    assert result.returncode == 1
    assert "make gen" in result.stderr
    missing = _run("--check", "--output", str(tmp_path / "absent.ts"))
    assert missing.returncode == 1


def test_every_method_and_type_is_declared() -> None:
    """Header, one typed constant per method, optional and nullable fields."""
    text = generate()
    assert text.startswith("// DO NOT EDIT")
    methods = [v for k, v in vars(protocol.Method).items() if k.isupper()]
    assert set(methods) == {
        *protocol.REQUESTS, *protocol.CLIENT_NOTIFICATIONS, *protocol.SERVER_NOTIFICATIONS
    }
    for method in protocol.REQUESTS:
        assert re.search(rf"^export const \w+ = new lc\.RequestType<.+, void>\('{method}'\);$",
                         text, re.M), method
    for method in [*protocol.CLIENT_NOTIFICATIONS, *protocol.SERVER_NOTIFICATIONS]:
        assert re.search(rf"^export const \w+ = new lc\.NotificationType<\w+>\('{method}'\);$",
                         text, re.M), method
    assert text.count("'ensemble/") == len(methods)  # named once, in its constant
    union = "'signed_out' | 'connecting' | 'online' | 'offline'"
    assert f"export type ConnectionState = {union};" in text
    assert "  range: Range | null;" in text  # LocalThread.range: no default, may be None
    assert "  next_retry_at?: number | null;" in text  # default None
    assert "  native_ui?: boolean;" in text  # default False
    assert "  reactions?: Record<string, string[]>;" in text
    assert "export type Empty = Record<string, never>;" in text
    assert (
        "export const listSessions = new lc.RequestType<Empty, SessionInfo[], void>"
        "('ensemble/listSessions');" in text
    )
    assert "export const export_ = new lc.RequestType<ExportParams, ExportResult, void>" in text
    assert (
        "export const didError = new lc.NotificationType<ErrorParams>('ensemble/didError');"
        in text
    )


def test_constant_names_follow_the_method_names() -> None:
    """`ensemble/foo` -> `foo`; a reserved word takes a `_`; other names are refused."""
    assert constant_name("ensemble/signUp") == "signUp"
    assert constant_name("ensemble/export") == "export_"
    for bad in ("other/signUp", "ensemble/has-dash", "ensemble/"):
        with pytest.raises(GenerationError):
            constant_name(bad)


def test_generated_file_compiles_under_strict_typescript(tmp_path: Path) -> None:
    """tsc --strict accepts the generated declarations on their own."""
    ci.need([w for w, ok in (("typescript (npm install)", TSC.exists()),
                             ("node", shutil.which("node") is not None)) if not ok],
            "run `make node_modules/.stamp`")
    shutil.copy(OUTPUT, tmp_path / "protocol.generated.ts")
    config = {
        "compilerOptions": {
            "strict": True, "noEmit": True, "target": "es2020", "types": [],
            # its one import, vscode-jsonrpc, from the workspace's node_modules
            "moduleResolution": "node", "baseUrl": str(ROOT / "node_modules"),
        },
        "files": ["protocol.generated.ts"],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    result = subprocess.run(
        ["node", str(TSC), "-p", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
