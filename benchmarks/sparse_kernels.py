"""Per-layer speed of the sparse CPU kernels against a dense linear, on MiniLM's shapes.

    python benchmarks/sparse_kernels.py [--densities 0.5,0.1,0.05,0.03] [--tokens 2048,4096]
        [--threads 1] [--rounds 7]

For every shape of a MiniLM encoder linear (384->384, 384->1536, 1536->384), density and
token count, a random unstructured mask is baked into a linear, and ``F.linear`` (dense) is
timed against every CPU sparse kernel of :mod:`trainables.sparse.kernels` in alternation (one
call of each per round, fastest of ``--rounds``): the ratio is dense / kernel, so > 1 is
faster than dense. The whole-model figures are ``benchmarks/sparse_speed.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPES = ((384, 384), (384, 1536), (1536, 384))  # (in, out): qkv/attention out, FFN in, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--densities", default="0.5,0.1,0.05,0.03")
    parser.add_argument("--tokens", default="2048,4096")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "sparse_kernels.json"))
    args = parser.parse_args()

    import torch
    from torch import nn

    from trainables.sparse import kernels
    from trainables.sparse.timing import time_calls

    torch.set_num_threads(args.threads)
    rows = []
    for tokens in [int(t) for t in args.tokens.split(",")]:
        for in_features, out_features in SHAPES:
            for density in [float(d) for d in args.densities.split(",")]:
                generator = torch.Generator().manual_seed(0)
                linear = nn.Linear(in_features, out_features)
                with torch.no_grad():
                    keep = torch.rand(linear.weight.shape, generator=generator) < density
                    linear.weight.mul_(keep)
                x = torch.randn(tokens, in_features, generator=generator)
                available, unavailable = kernels.candidate_kernels(linear.weight)
                modules = {"dense": linear,
                           **{k: kernels.build_kernel(linear, k) for k in available}}
                with torch.no_grad():
                    expected = linear(x)
                    for name, module in modules.items():
                        torch.testing.assert_close(module(x), expected, atol=1e-4, rtol=1e-4)
                ms = time_calls({name: (lambda m=m: m(x)) for name, m in modules.items()},
                                torch.device("cpu"), rounds=args.rounds)
                ratios = {k: ms["dense"] / ms[k] for k in available}
                rows.append({"tokens": tokens, "in": in_features, "out": out_features,
                             "density": density, "threads": args.threads, "ms": ms,
                             "speedup": ratios, "unavailable": unavailable})
                print(f"tokens {tokens} {in_features}->{out_features} density {density:.2f}: "
                      f"dense {ms['dense']:.2f} ms; "
                      + ", ".join(f"{k} {r:.2f}x" for k, r in ratios.items()), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"torch": torch.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
