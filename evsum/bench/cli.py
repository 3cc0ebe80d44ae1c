"""``evsum bench [--quick] --out DIR``: argument parsing only; the work is in ``evsum.bench.runner``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from models.encoders import ENCODER_CHOICES


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmarks and print the readable table."""
    from evsum.bench.report import markdown
    from evsum.bench.runner import BenchOptions, check_options, run_bench

    options = BenchOptions(out=Path(args.out), quick=args.quick, encoder=args.encoder,
                           baseline_encoder=args.baseline_encoder, abstracts=args.abstracts, pdfs=args.pdfs,
                           cache_dir=Path(args.cache_dir) if args.cache_dir else None, txtai=not args.no_txtai)
    if args.sizes:
        options.sizes = tuple(int(s) for s in args.sizes.split(","))
    check_options(options)
    print(markdown(run_bench(options)))
    print(f"wrote {options.out / 'bench.json'} and {options.out / 'bench.md'}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    help_text = ("Benchmark indexing (against a naive pipeline and txtai), query latency over HTTP, memory "
                 "and cold start; writes DIR/bench.json and DIR/bench.md.")
    bench = subparsers.add_parser("bench", help=help_text, description=help_text)
    bench.add_argument("--out", required=True, help="Output directory.")
    bench.add_argument("--quick", action="store_true", help="CI size: 40 abstracts, the small index only.")
    bench.add_argument("--encoder", choices=ENCODER_CHOICES, default="minilm-int8",
                       help="Encoder of the evsum pipeline under test (default minilm-int8).")
    bench.add_argument("--baseline-encoder", choices=ENCODER_CHOICES, default="minilm",
                       help="Full mode also indexes with this encoder, for a before/after ratio (default minilm).")
    bench.add_argument("--abstracts", type=int, help="SciFact abstracts to index (default 40 quick, 150 full).")
    bench.add_argument("--pdfs", type=int, help="Smallest shared-corpus PDFs to index too (default 0 quick, 2 full).")
    bench.add_argument("--sizes", help="Comma-separated synthetic index sizes, full mode only "
                       "(default 10000,100000,1000000).")
    bench.add_argument("--cache-dir", help="ONNX export cache (default ~/.cache/evsum).")
    bench.add_argument("--no-txtai", action="store_true", help="Skip the txtai baseline.")
    bench.set_defaults(handler=cmd_bench)
