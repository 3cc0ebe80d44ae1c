"""The ``evsum eval`` command: ``pubmedqa``, ``scifact`` and ``jsonl`` gold sets.

``register(subparsers)`` adds the command to the main ``evsum`` parser; ``main``
runs it stand-alone (``python -m eval.cli pubmedqa FILE --out DIR``).  Each run
writes ``metrics.json``, ``predictions.jsonl`` and ``report.html`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.common import EvalOptions
from eval.splits import SPLITS
from evsum.errors import EvsumError
from evsum.settings import DEFAULT_ENCODER
from models.encoders import ENCODER_CHOICES


def options_from(args: argparse.Namespace) -> EvalOptions:
    """The shared options of a parsed ``evsum eval`` command line."""
    if args.limit is not None and args.limit < 0:
        raise EvsumError("--limit must be zero or more")
    if args.max_sentences < 1:
        raise EvsumError("--max-sentences must be at least 1")
    return EvalOptions(
        out=Path(args.out), limit=args.limit, max_sentences=args.max_sentences, seed=args.seed,
        index_dir=Path(args.index_dir) if args.index_dir else None, encoder=args.encoder, url=args.url,
        split=args.split, progress=not args.no_progress, api_key=args.api_key,
    )


def _print(metrics: dict[str, Any], out: Path) -> None:
    shown = {k: v for k, v in metrics.items() if k != "run"}
    print(json.dumps(shown, indent=2, sort_keys=True))
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.jsonl'} and {out / 'report.html'}")


def cmd_pubmedqa(args: argparse.Namespace) -> int:
    """Evaluate on a PubMedQA ``ori_pqal.json``-shaped file."""
    from eval.pubmedqa import run_pubmedqa

    options = options_from(args)
    _print(run_pubmedqa(Path(args.file), options), options.out)
    return 0


def cmd_scifact(args: argparse.Namespace) -> int:
    """Evaluate retrieval and rationale selection on SciFact."""
    from eval.scifact import run_scifact

    options = options_from(args)
    _print(run_scifact(Path(args.corpus), Path(args.claims), options, claim_check=not args.no_claim_check),
           options.out)
    return 0


def cmd_jsonl(args: argparse.Namespace) -> int:
    """Evaluate one or more generic gold JSONL files over the current index."""
    from eval.generic import run_generic

    options = options_from(args)
    _print(run_generic([Path(name) for name in args.file], options), options.out)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two ``evsum eval`` output directories of the same gold set, item by item."""
    from eval.compare import compare_runs, summary_lines, write_comparison

    comparison = compare_runs(Path(args.before), Path(args.after), seed=args.seed)
    out = Path(args.out)
    write_comparison(comparison, out)
    print("\n".join(summary_lines(comparison)))
    print(f"wrote {out / 'compare.json'} and {out / 'report.html'}")
    return 0


def _common(parser: argparse.ArgumentParser, index_help: str) -> None:
    parser.add_argument("--out", required=True, help="Output directory (metrics.json, predictions.jsonl, "
                                                     "report.html).")
    parser.add_argument("--limit", type=int, default=None, help="Evaluate at most N items (seeded sample).")
    parser.add_argument("--max-sentences", type=int, default=2,
                        help="Sentence budget of the system, the baselines and the oracle (default 2).")
    parser.add_argument("--seed", type=int, default=0,
                        help="Seed of the --limit sample and of the bootstrap intervals (default 0).")
    parser.add_argument("--index-dir", help=index_help)
    parser.add_argument("--encoder", choices=ENCODER_CHOICES, default=DEFAULT_ENCODER,
                        help=f"Encoder for indexing and questions (default {DEFAULT_ENCODER}, as served).")
    parser.add_argument("--url", help="Ask a running evsum service at this base URL instead of in-process.")
    parser.add_argument("--api-key", default=os.environ.get("EVSUM_API_KEY"),
                        help="Clinician (or higher) key for --url (default: $EVSUM_API_KEY); never written out.")
    parser.add_argument("--split", choices=list(SPLITS), default="all",
                        help="Items of this split only (eval.splits.split_of; default all).")
    parser.add_argument("--no-progress", action="store_true", help="Hide progress bars.")


def register(subparsers: Any) -> None:
    """Add ``eval`` with its ``pubmedqa``, ``scifact``, ``jsonl`` and ``compare`` subcommands to ``subparsers``."""
    help_text = "Evaluate summaries against gold sets; writes metrics.json, predictions.jsonl, report.html."
    evaluate = subparsers.add_parser("eval", help=help_text, description=help_text)
    sets = evaluate.add_subparsers(dest="eval_set", required=True, metavar="{pubmedqa,scifact,jsonl,compare}")
    build_index = "Index directory to build or reuse (default OUT/index)."

    pubmedqa = sets.add_parser("pubmedqa", help="PubMedQA PQA-L (ori_pqal.json shape).",
                               description="Index every item's CONTEXTS, ask every QUESTION, score against "
                                           "LONG_ANSWER with lead, BM25, cosine and oracle baselines.")
    pubmedqa.add_argument("file", help="PubMedQA JSON file keyed by PubMed id.")
    _common(pubmedqa, build_index)
    pubmedqa.set_defaults(handler=cmd_pubmedqa)

    scifact = sets.add_parser("scifact", help="SciFact abstract retrieval and rationale selection.",
                              description="Index the corpus, rank abstracts for each claim with evidence "
                                          "(nDCG@10) and select rationale sentences in gold abstracts.")
    scifact.add_argument("--corpus", required=True, help="SciFact corpus.jsonl.")
    scifact.add_argument("--claims", required=True, help="SciFact claims_*.jsonl.")
    scifact.add_argument("--no-claim-check", action="store_true",
                         help="Score rationales with the question scorer only, without the claim cross-encoder.")
    _common(scifact, build_index)
    scifact.set_defaults(handler=cmd_scifact)

    generic = sets.add_parser("jsonl", help="Generic gold JSONL over the current index.",
                              description="Lines with question and optional gold_summary, gold_sources, "
                                          "gold_sentences, gold_doc_ids.")
    generic.add_argument("file", nargs="+", help="Gold JSONL file(s). Several are scored in one run, with the "
                                                 "figures broken down per file (ids must be unique across them).")
    _common(generic, "Index directory to read (default: the configured index, EVSUM_INDEX__INDEX_DIR).")
    generic.set_defaults(handler=cmd_jsonl)

    compare = sets.add_parser("compare", help="Compare two runs of the same gold set, item by item.",
                              description="Pair the items of two 'evsum eval' output directories by id and give, "
                                          "for each metric, both means and the paired-bootstrap 95 % interval of "
                                          "after minus before, the items gained and lost, and where the two runs' "
                                          "provenance differs. Writes compare.json and report.html.")
    compare.add_argument("before", help="Output directory of the earlier run (the baseline).")
    compare.add_argument("after", help="Output directory of the later run.")
    compare.add_argument("--out", required=True, help="Output directory (compare.json, report.html).")
    compare.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap intervals (default 0).")
    compare.set_defaults(handler=cmd_compare)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evsum eval ...`` through the main CLI; ``argv`` may start with ``eval`` or with the gold-set name."""
    from evsum.cli import main as evsum_main

    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] != "eval":
        arguments = ["eval", *arguments]
    return evsum_main(arguments)


if __name__ == "__main__":
    sys.exit(main())
