"""On a terminal the console shows a progress bar; elsewhere plain lines only."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
import subprocess
import sys

import pytest

ARGS = ["-m", "hyrun", "data=synthetic", "model=mlp", "data.num_samples=2000", "runner.max_epochs=2",
        "log_config.interval=50", "evaluation=null", "checkpoint_config=null"]


@pytest.mark.slow
def test_terminal_gets_a_progress_bar_and_the_log_lines(tmp_path):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # rows, cols
    process = subprocess.Popen([sys.executable, *ARGS, f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path,
                               stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=120) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "epoch 1/2" in screen and "epoch 2/2" in screen
    assert "/63" in screen and "loss=" in screen and "lr=2.000e-02" in screen and "eta=" in screen
    assert "Epoch [2][50/63]" in screen  # log lines still reach the console, above the bar


@pytest.mark.slow
def test_no_terminal_no_bar(tmp_path):
    result = subprocess.run([sys.executable, *ARGS, f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Epoch [1][50/63]" in output and "epoch 1/2" not in output and "it/s" not in output
