"""Long commands show their progress on a terminal (a pseudo-terminal here) and print none of it
into a pipe: `generate` by stage and file, `run` by asset with the seconds into its step."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.support import clean_env

RETAIL_INTEL = str(Path(sys.executable).parent / "retail-intel")
PROGRESS_LINE = re.compile(r"^  \[\d\d:\d\d\.\d\] ", re.MULTILINE)


def on_a_terminal(*args: str, cwd: Path, timeout: float = 900) -> tuple[int, str]:
    """The command with stdin, stdout and stderr on a pseudo-terminal, as a person runs it."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [RETAIL_INTEL, *args], stdin=follower, stdout=follower, stderr=follower, cwd=cwd, env=clean_env()
    )
    os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            child.kill()
            child.wait()
            os.close(leader)
            raise AssertionError(f"{args} still running after {timeout} s: {output.decode(errors='replace')[-2000:]}")
        readable, _, _ = select.select([leader], [], [], min(remaining, 5.0))
        if not readable:
            continue
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    child.wait(timeout=60)
    os.close(leader)
    return child.returncode, output.decode(errors="replace").replace("\r\n", "\n")


def test_generate_and_run_show_progress_on_a_terminal_only(tmp_path):
    code, shown = on_a_terminal("generate", "--orders", "3000", "--out", str(tmp_path / "raw"), cwd=tmp_path)
    assert code == 0, shown
    assert re.search(r"\] order items$", shown, re.MULTILINE), shown
    assert re.search(r"\] writing olist_orders_dataset\.csv \(3,000 rows\)$", shown, re.MULTILINE), shown

    piped = subprocess.run(
        [RETAIL_INTEL, "generate", "--orders", "3000", "--out", str(tmp_path / "again")],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert piped.returncode == 0, piped.stderr
    assert not PROGRESS_LINE.search(piped.stdout + piped.stderr)
    assert "Wrote 9 files" in piped.stdout
    # The progress hook draws nothing: the files are the same with and without it.
    for name in ("olist_orders_dataset.csv", "olist_order_items_dataset.csv"):
        assert (tmp_path / "raw" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()

    code, shown = on_a_terminal(
        "--home", str(tmp_path / "home"), "run", "--raw-dir", str(tmp_path / "raw"), cwd=tmp_path
    )
    assert code == 0, shown[-3000:]
    steps = re.findall(r"\] \[(\d+)/(\d+)\] (\S+)  \+(\d+\.\d) s$", shown, re.MULTILINE)
    materialized = int(re.search(r"^(\d+) assets materialized", shown, re.MULTILINE).group(1))
    assert {total for _, total, _, _ in steps} == {str(materialized)}
    assert [int(done) for done, _, _, _ in steps] == list(range(1, materialized + 1))
    assert {"marts/daily_revenue", "ml/revenue_forecast", "serving/customer_recommendations"} <= {
        asset for _, _, asset, _ in steps
    }
