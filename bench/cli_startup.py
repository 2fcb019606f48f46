"""Wall time of `python -m digitclf predict one.png` as a whole process, next to a bare
`python -c "import tensorflow"`, alternating runs in this one script.

    python bench/cli_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
from digitclf.training import synth
from digitclf.training.data import load_mnist


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "one.png"
        Image.fromarray(synth.ink_on_paper(synth.render(load_mnist("test")[0][0]))).save(image)
        ours, bare = [], []
        for _ in range(args.runs):
            ours.append(wall([sys.executable, "-m", "digitclf", "predict", str(image)]))
            bare.append(wall([sys.executable, "-c", "import tensorflow"]))
    print(f"python -m digitclf predict one.png: {statistics.median(ours):5.2f} s median of {args.runs}")
    print(f'python -c "import tensorflow":     {statistics.median(bare):5.2f} s median of {args.runs}')
    print(f"ratio: {statistics.median(ours) / statistics.median(bare):.2f}x")


if __name__ == "__main__":
    main()
