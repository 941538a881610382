"""The shipped reader's weights: the mean of the trained weights of runs of one recipe that
differ only in their seed (a "model soup", Wortsman et al. 2022). Each run starts from the
same MiniLM layers, so their weights stay close enough to average; the mean reads as the
runs' ensemble would at one run's cost and size (docs/reader-training.md).

    .venv/bin/python scripts/reader/soup.py assistant/models/reader.safetensors \\
        data/reader/run5/reader.safetensors data/reader/run13/reader.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", type=Path, nargs="+", help="reader.safetensors of each run")
    args = parser.parse_args()
    weights = [load_file(str(p)) for p in args.runs]
    names = set(weights[0])
    for path, w in zip(args.runs, weights, strict=True):
        if set(w) != names:
            raise SystemExit(f"{path}: other tensors than {args.runs[0]}")
    mean = {k: np.mean([w[k].astype(np.float32) for w in weights], axis=0)
            .astype(weights[0][k].dtype) for k in sorted(names)}
    save_file(mean, str(args.out))
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out}: the mean of {len(weights)} runs, {args.out.stat().st_size} bytes, "
          f"sha256 {digest}")


if __name__ == "__main__":
    main()
