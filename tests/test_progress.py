"""Training progress in a terminal and in a log: TerminalProgress run in real processes whose
stderr is a pipe (a file, a CI log) or a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

# Two epochs of 150 steps each, as a training run reports them.
FEED = """
from digitclf.training.progress import TerminalProgress, TrainingEvent
show = TerminalProgress()
show(TrainingEvent("start", 0, 2))
for epoch in (1, 2):
    for step in range(1, 151):
        show(TrainingEvent("batch", epoch, 2, step, 150, {"loss": 1 / step, "accuracy": 0.9}))
    show(TrainingEvent("epoch", epoch, 2, 150, 150,
                       {"loss": 0.1, "accuracy": 0.97, "val_loss": 0.12, "val_accuracy": 0.96}))
show(TrainingEvent("done", 2, 2))
"""
EPOCH_LINES = [
    "epoch 1/2: loss 0.1000, accuracy 0.9700, val_loss 0.1200, val_accuracy 0.9600",
    "epoch 2/2: loss 0.1000, accuracy 0.9700, val_loss 0.1200, val_accuracy 0.9600",
    "evaluated on the test set",
]


def test_progress_into_a_log_is_one_line_per_epoch():
    result = subprocess.run([sys.executable, "-c", FEED], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.splitlines() == EPOCH_LINES
    assert result.stderr == ""  # no bar redraws


def test_progress_on_a_terminal_draws_a_bar():
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        process = subprocess.Popen([sys.executable, "-c", FEED], stdout=subprocess.PIPE,
                                   stderr=follower, text=True)
        os.close(follower)
        stdout, _ = process.communicate(timeout=60)
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process is gone and everything it wrote has been read
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(leader)
    assert process.returncode == 0
    assert stdout.splitlines() == EPOCH_LINES
    text = terminal.decode()
    assert "epoch 1/2:" in text and "epoch 2/2:" in text and "/150 [" in text  # the bars
    assert text.count("\r") > 2  # the bar redraws itself in place


def test_train_help_counts_epochs_in_words():
    result = subprocess.run([sys.executable, "-m", "digitclf", "train", "--help"],
                            capture_output=True, text=True, timeout=60, check=True)
    text = " ".join(result.stdout.split())
    assert "(cnn, 1 epoch)" in text and "1 epochs" not in text
