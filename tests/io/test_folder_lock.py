"""The output-folder lock: one holder at a time across processes, re-entrant within one, and
released by the operating system when its holder dies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io import folder_lock
from stylevid.pipeline.io.folder_lock import LOCK_NAME, lock_holder, output_folder_lock

pytestmark = pytest.mark.skipif(folder_lock.fcntl is None, reason="no fcntl (Windows): runs go unlocked")

HOLD = """
import sys, time
from pathlib import Path
from stylevid.pipeline.io.folder_lock import output_folder_lock
with output_folder_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def hold_in_another_process(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    holder = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(StylevidError, match=rf"another run \(PID {holder.pid}\) is writing to {tmp_path}"):
            with output_folder_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_obstacle(tmp_path):
    holder = hold_in_another_process(tmp_path)
    holder.kill()  # SIGKILL: no clean-up runs, the lock file stays
    holder.wait()
    assert (tmp_path / LOCK_NAME).exists() and lock_holder(tmp_path) == holder.pid
    with output_folder_lock(tmp_path):
        assert lock_holder(tmp_path) == os.getpid()


def test_reentrant_within_a_process_and_released_after(tmp_path):
    (tmp_path / "sub").mkdir()
    with output_folder_lock(tmp_path):
        with output_folder_lock(tmp_path / "sub" / ".."):  # the same folder, spelt differently
            assert lock_holder(tmp_path) == os.getpid()
        probe = subprocess.run(
            [sys.executable, "-c", HOLD.replace("time.sleep(120)", "pass"), str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "is writing to" in probe.stderr  # still held by the outer block
    probe = subprocess.run(
        [sys.executable, "-c", HOLD.replace("time.sleep(120)", "pass"), str(tmp_path)], capture_output=True, text=True
    )
    assert probe.returncode == 0 and probe.stdout.strip() == "held", probe.stderr


def test_without_fcntl_runs_go_unlocked(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_lock, "fcntl", None)
    with output_folder_lock(tmp_path), output_folder_lock(tmp_path):
        pass
    assert not (tmp_path / LOCK_NAME).exists()
