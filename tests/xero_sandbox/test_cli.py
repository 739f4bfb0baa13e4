"""`bankfeeds sandbox xero`: the Xero sandbox as its own process, on its own port and database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bankfeeds.cli.main import app as cli
from tests.fixtures.app import free_port
from tests.fixtures.xero_sandbox import DEMO_EMAIL, DEMO_PASSWORD, consent, pkce_pair


def test_the_cli_checks_its_options() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["sandbox", "xero", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    for option in ("--client-id", "--client-secret", "--redirect-uri", "--port", "--database-url", "--demo",
                   "--no-limits", "--processing-delay"):
        assert option in result.output
    bad = runner.invoke(cli, ["sandbox", "xero", "--client-secret", "s", "--redirect-uri", "ftp://x"])
    assert bad.exit_code != 0 and "http" in bad.output


def test_serves_sign_in_consent_and_tokens_as_a_process(tmp_path: Path) -> None:
    port = free_port()
    callback = "http://127.0.0.1:9/link/xero/callback"
    env = {**os.environ, "BANKFEEDS_XERO_CLIENT_SECRET": "cli-secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankfeeds", "sandbox", "xero", "--port", str(port), "--client-id", "cli-app",
         "--redirect-uri", callback, "--database-url", f"sqlite:///{tmp_path / 'xero.sqlite3'}", "--demo"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            assert time.monotonic() < deadline, "the Xero sandbox did not start"
            time.sleep(0.2)
        verifier, challenge = pkce_pair()
        url = (f"{base}/sandbox/xero/identity/connect/authorize?response_type=code&client_id=cli-app"
               f"&redirect_uri={callback}&scope=offline_access%20bankfeeds&state=s1&code_challenge={challenge}"
               "&code_challenge_method=S256")
        with httpx.Client(timeout=30, follow_redirects=False) as browser:
            location = consent(browser, url, email=DEMO_EMAIL, password=DEMO_PASSWORD, organisations=["Kiwi Coffee Co"])
        assert location.startswith(callback + "?code=")
        code = location.split("code=")[1].split("&")[0]
        tokens = httpx.post(f"{base}/sandbox/xero/identity/connect/token", auth=("cli-app", "cli-secret"),
                            data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback,
                                  "code_verifier": verifier})
        assert tokens.status_code == 200 and tokens.json()["refresh_token"]
    finally:
        proc.terminate()
        proc.wait(20)
