"""Configuration at start: secrets, bcrypt cost, listening line."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.relayproc import ROOT


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENSEMBLE_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "relay", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_relay_refuses_to_start_without_secret_outside_dev_mode(tmp_path):
    result = _run(["--port", "0", "--data-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "ENSEMBLE_JWT_SECRET" in result.stderr


def test_bcrypt_cost_below_12_is_refused_from_the_environment(tmp_path):
    result = _run(["--port", "0", "--data-dir", str(tmp_path), "--dev"],
                  {"ENSEMBLE_BCRYPT_ROUNDS": "4"})
    assert result.returncode == 2 and "BCRYPT" in result.stderr


def test_busy_port_is_a_clear_error(relay, tmp_path):
    result = _run(["--port", str(relay.port), "--data-dir", str(tmp_path), "--dev"])
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr


def test_dev_secret_is_created_once_and_reused(relay_factory, tmp_path):
    relay = relay_factory(data_dir=tmp_path / "d")
    secret = (relay.data_dir / "jwt-secret").read_text()
    relay.restart()
    assert (relay.data_dir / "jwt-secret").read_text() == secret


def test_secret_from_environment_is_used_instead_of_a_file(relay_factory, tmp_path):
    relay = relay_factory(env={"ENSEMBLE_JWT_SECRET": "x" * 32}, data_dir=tmp_path / "e")
    assert not (relay.data_dir / "jwt-secret").exists()
    assert relay.running()


def test_presence_batch_spacing_out_of_range_is_refused(tmp_path):
    result = _run(["--port", "0", "--data-dir", str(tmp_path), "--dev"],
                  {"ENSEMBLE_PRESENCE_BATCH_MS": "500"})
    assert result.returncode == 2 and "presence_batch_ms" in result.stderr
