"""The ``evsum`` command line: index, serve, ui, ask and demo.

Errors are printed as one line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from evsum.errors import EvsumError
from evsum.records import whole_sentence_groups
from evsum.settings import Settings
from models.encoders import ENCODER_CHOICES

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO_ROOT / "samples" / "corpus"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEMO_QUESTION = "What hand hygiene is expected before and after patient contact in outpatient settings?"


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "index_dir", None):
        settings.index.index_dir = Path(args.index_dir)
    if getattr(args, "encoder", None):
        settings.models.encoder = args.encoder
    if getattr(args, "host", None):
        settings.service.host = args.host
    if getattr(args, "port", None):
        settings.service.port = args.port
    if getattr(args, "api_url", None):
        settings.ui.api_url = args.api_url
    return settings


def cmd_index(args: argparse.Namespace) -> int:
    """Index PDFs and JSONL abstracts into a new snapshot."""
    from indexing.pipeline import run_index
    from models.encoders import build_encoder

    settings = _settings(args)
    encoder = build_encoder(settings.models, settings.index.embed_batch_size)
    sidecar = None
    if getattr(args, "metadata", None):
        from indexing.sidecar import read_sidecars

        sidecar = read_sidecars([Path(p) for p in args.metadata])
    report = run_index([Path(p) for p in args.paths], settings.index, encoder, prune=args.prune,
                       progress=not args.no_progress, sidecar=sidecar)
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    for duplicate, original in report.duplicates:
        print(f"duplicate {duplicate}: same content as {original}, stored once", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP API with uvicorn."""
    import uvicorn

    from service.app import create_app
    from service.redaction import server_log_config

    settings = _settings(args)
    if settings.service.host not in ("127.0.0.1", "::1", "localhost"):
        print(f"evsum: warning: listening on {settings.service.host}, not loopback: put it behind a TLS "
              "reverse proxy and a firewall", file=sys.stderr)
    app = create_app(settings)
    uvicorn.run(app, host=settings.service.host, port=settings.service.port, log_level="info",
                log_config=server_log_config())
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Run the Streamlit front end against an API."""
    from ui.launch import run_ui

    settings = _settings(args)
    return run_ui(settings.ui.api_url, args.ui_port or settings.ui.port)


def cmd_users(args: argparse.Namespace) -> int:
    """Add users, issue and revoke API keys in the workflow database."""
    from service.admin_cli import run

    return run(args, Settings().database_url)


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question in-process and print the cited summary."""
    from evsum.engine import Engine

    settings = _settings(args)
    engine = Engine.load(settings)
    summary = engine.summariser.summarise(args.question, args.max_sentences, claim=args.claim)
    if args.json:
        from service.schemas import SummaryOut

        print(json.dumps(SummaryOut.of(summary).model_dump(), indent=2))
        return 0
    print(format_summary(summary.question, summary.status, summary.message,
                         [Quote(s.text, s.citation.title, s.citation.page, s.citation.char_start,
                                s.citation.char_end, s.continues) for s in summary.sentences], claim=summary.claim))
    return 0


class Quote(NamedTuple):
    """One quote of a summary as the plain-text rendering needs it."""

    text: str
    title: str
    page: int
    char_start: int
    char_end: int
    continues: bool = False  # the first part of a sentence cut by a page break: the next quote is its end


def format_summary(question: str, status: str, message: str, sentences: Sequence[Quote], *,
                   claim: bool = False) -> str:
    """A plain-text rendering of a summary with numbered citations, one sentence a line: the two parts of a
    sentence cut by a page break share a line, each with its own citation number."""
    label = "Claim checked" if claim else "Question"
    lines = [f"{label}: {question}", "UNREVIEWED MACHINE DRAFT: not signed off by a librarian", ""]
    if status != "answered":
        return "\n".join(lines + [message])
    for group in whole_sentence_groups([quote.continues for quote in sentences]):
        text = " ".join(sentences[i].text for i in group)
        lines.append(f"  {text} {''.join(f'[{i + 1}]' for i in group)}")
    lines.append("")
    for number, quote in enumerate(sentences, start=1):
        lines.append(f"  [{number}] {quote.title}, p. {quote.page}, chars {quote.char_start}-{quote.char_end}")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the bundled sample corpus, start the API and the UI, and ask one question."""
    import httpx

    settings = _settings(args)
    index_args = argparse.Namespace(paths=[str(SAMPLE_CORPUS)], prune=False, no_progress=False,
                                    index_dir=str(settings.index.index_dir), encoder=args.encoder)
    cmd_index(index_args)
    from service.admin_cli import bootstrap_demo_users

    keys = bootstrap_demo_users(settings.database_url)
    env = {**os.environ, "EVSUM_INDEX__INDEX_DIR": str(settings.index.index_dir),
           "EVSUM_DATABASE_URL": settings.database_url, "EVSUM_UI__API_KEY": keys.librarian}
    if args.encoder:
        env["EVSUM_MODELS__ENCODER"] = args.encoder
    api_url = f"http://{settings.service.host}:{settings.service.port}"
    processes = [subprocess.Popen([sys.executable, "-m", "evsum.cli", "serve", "--host", settings.service.host,
                                   "--port", str(settings.service.port)], env=env)]
    try:
        _wait_ready(api_url, timeout=180)
        response = httpx.post(f"{api_url}/v1/summaries", json={"question": args.question, "max_sentences": 3},
                              headers={"Authorization": f"Bearer {keys.librarian}"}, timeout=60)
        response.raise_for_status()
        body = response.json()
        print(format_summary(body["question"], body["status"], body["message"],
                             [Quote(s["text"], s["citation"]["title"], s["citation"]["page"],
                                    s["citation"]["char_start"], s["citation"]["char_end"], s.get("continues", False))
                              for s in body["sentences"]]))
        print(f"\nAPI keys (database {settings.database_url}); send as 'Authorization: Bearer <key>':\n"
              f"  admin:     {keys.admin}\n  librarian: {keys.librarian}   (the UI starts with this one)\n"
              f"  reviewer:  {keys.reviewer}   (paste it in the UI sidebar to review and release)\n"
              f"  e.g. curl -H 'Authorization: Bearer {keys.admin}' {api_url}/v1/users")
        if args.once:
            return 0
        if not args.no_ui:
            processes.append(subprocess.Popen([sys.executable, "-m", "evsum.cli", "ui", "--api-url", api_url,
                                               "--ui-port", str(args.ui_port)], env=env))
            print(f"\nUI:  http://127.0.0.1:{args.ui_port}   (Ctrl-C stops both)")
        print(f"API: {api_url}/docs")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(api_url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise EvsumError(f"the API at {api_url} did not become ready within {timeout:.0f} s")


def cmd_train_scorer(args: argparse.Namespace) -> int:
    """Train the sentence scorer on the PubMedQA train split and write its weights."""
    from models.training import save_result, train_scorer

    result = train_scorer(Path(args.pubmedqa), Path(args.index_dir), seed=args.seed, encoder_name=args.encoder,
                          progress=not args.no_progress)
    out = save_result(result, Path(args.pubmedqa), Path(args.out), seed=args.seed)
    print(f"trained on {result.train_questions} questions ({result.pairs} pairs) in {result.seconds:.0f} s; "
          f"dev top-1 ROUGE-L {result.dev_top1_rouge_trained:.4f} vs prior {result.dev_top1_rouge_prior:.4f} "
          f"on {result.dev_questions} held-out questions; weights: {out}")
    return 0


def cmd_train_claim_scorer(args: argparse.Namespace) -> int:
    """Fine-tune the claim cross-encoder on the SciFact train split and export it as int8 ONNX."""
    from models.claim_training import ClaimTrainingOptions, train_claim_scorer

    options = ClaimTrainingOptions(epochs=args.epochs, seed=args.seed, limit=args.limit,
                                   listwise_weight=args.listwise_weight, question_weight=args.question_weight)
    questions = None
    if args.questions:
        from evsum.engine import Engine
        from models.question_training import question_pairs

        engine = Engine.load(_settings(args))
        questions = question_pairs([Path(f) for f in args.questions], engine.summariser, args.negatives)
        print(f"{len(questions.pairs)} question pairs from {len(args.questions)} files over index "
              f"snapshot {questions.index_snapshot}")
    info = train_claim_scorer(Path(args.claims), Path(args.corpus), Path(args.out), options,
                              pubmedqa_file=Path(args.pubmedqa) if args.pubmedqa else None,
                              questions=questions, progress=not args.no_progress)
    trained = info["trained_on"]
    print(f"trained on {trained['pairs']} pairs ({trained['positives']} positives) in "
          f"{info['seconds']:.0f} s; wrote {args.out} and {Path(args.out).with_name('claim_cross_encoder.json')}")
    return 0


def cmd_recheck(args: argparse.Namespace) -> int:
    """Import retraction lists, flag released summaries that need review, rerun saved questions."""
    from evsum.engine import Engine
    from service.evidence import EngineEvidence
    from service.recheck import Rechecker, read_retraction_list
    from service.store.sql import SqlStore

    settings = _settings(args)
    store = SqlStore.open(settings.database_url)
    try:
        rechecker = Rechecker(store, store.recheck)
        engine = None if args.no_index else Engine.load(settings)
        documents = engine.reader.documents if engine is not None else None
        for path in args.retractions or []:
            added, flags = rechecker.retract(read_retraction_list(Path(path)), Path(path).name, args.actor, documents)
            print(f"{path}: {len(added)} new retractions")
            print("\n".join(f"  release {f.release_id} (draft {f.draft_id}) needs review: {f.reason}" for f in flags))
        report = rechecker.recheck(EngineEvidence(engine) if engine is not None else None, documents, args.actor,
                                   settings.priority)
        print("\n".join(report.lines()))
    finally:
        store.close()
    return 0


def cmd_train_study_design(args: argparse.Namespace) -> int:
    """Train the study-design classifier on SciFact and PubMedQA (train split) and report its accuracy."""
    from models.study_design import train_and_save

    report = train_and_save(Path(args.scifact), Path(args.pubmedqa), Path(args.out),
                            Path(args.sample_out) if args.sample_out else None, seed=args.seed)
    print(f"trained on {report.train_items} abstracts; held-out labelled sample of {report.sample_items}: "
          f"accuracy {report.accuracy:.3f} (rules alone {report.rules_only:.3f}, majority label "
          f"{report.majority:.3f}); weights: {report.weights_file}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="evsum", description="Cited extractive evidence summaries.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    index = add("index", cmd_index, "Index PDFs and JSONL abstracts (files or folders).")
    index.add_argument("paths", nargs="+", help="PDF or JSONL files, or folders walked recursively.")
    index.add_argument("--index-dir", help="Index directory (default from settings: data/index).")
    index.add_argument("--prune", action="store_true", help="Drop indexed documents not among the inputs.")
    index.add_argument("--encoder", choices=ENCODER_CHOICES, help="Encoder (default minilm-int8).")
    index.add_argument("--no-progress", action="store_true", help="Hide progress bars.")
    index.add_argument("--metadata", action="append", metavar="FILE",
                       help="Sidecar metadata (CSV or JSON manifest, or RIS) whose values win over the PDF's; "
                       "repeatable.")

    serve = add("serve", cmd_serve, "Run the HTTP API.")
    serve.add_argument("--index-dir")
    serve.add_argument("--host", help="Bind address (default 127.0.0.1).")
    serve.add_argument("--port", type=int)
    serve.add_argument("--encoder", choices=ENCODER_CHOICES)

    ui = add("ui", cmd_ui, "Run the Streamlit front end.")
    ui.add_argument("--api-url", help="Base URL of the evsum API (default http://127.0.0.1:8000).")
    ui.add_argument("--ui-port", type=int, help="Port of the UI (default 8501).")

    ask = add("ask", cmd_ask, "Answer one question from the index and print the cited summary.")
    ask.add_argument("question")
    ask.add_argument("--index-dir")
    ask.add_argument("--max-sentences", type=int, default=None)
    ask.add_argument("--encoder", choices=ENCODER_CHOICES)
    ask.add_argument("--json", action="store_true", help="Print the API's JSON shape.")
    ask.add_argument("--claim", action="store_true",
                     help="Check the text as a claim: quote the sentences that report the finding, for or against.")

    from service.admin_cli import add_arguments as add_users_arguments

    add_users_arguments(add("users", cmd_users, "Add users and revoke API keys (EVSUM_DATABASE_URL)."))

    demo = add("demo", cmd_demo, "Index the sample corpus, start the API and UI, ask a question.")
    demo.add_argument("--index-dir")
    demo.add_argument("--port", type=int)
    demo.add_argument("--ui-port", type=int, default=8501)
    demo.add_argument("--encoder", choices=ENCODER_CHOICES)
    demo.add_argument("--question", default=DEMO_QUESTION)
    demo.add_argument("--no-ui", action="store_true", help="Start the API only.")
    demo.add_argument("--once", action="store_true", help="Exit after printing the answer.")
    recheck = add("recheck", cmd_recheck, "Flag released summaries citing changed, superseded or retracted "
                  "documents and rerun saved questions (EVSUM_DATABASE_URL).")
    recheck.add_argument("--index-dir")
    recheck.add_argument("--encoder", choices=ENCODER_CHOICES)
    recheck.add_argument("--retractions", action="append", metavar="CSV",
                         help="Retraction list (CSV with doi, pmid or document_id, and reason); repeatable.")
    recheck.add_argument("--no-index", action="store_true", help="Only check retractions (no index loaded).")
    recheck.add_argument("--actor", default="evsum-recheck", help="Name written to the audit log.")
    study = add("train-study-design", cmd_train_study_design,
                "Train the study-design classifier from ../shared/data (seeded) and report its accuracy.")
    study.add_argument("--scifact", default=str(SHARED_DATA / "scifact" / "corpus.jsonl"))
    study.add_argument("--pubmedqa", default=str(SHARED_DATA / "pubmedqa" / "pqal_dev.json"))
    study.add_argument("--out", default="data/train/study_design.json",
                       help="Weights file to write (the shipped one is models/weights/study_design.json).")
    study.add_argument("--sample-out", help="Also write the held-out labelled sample (JSONL) here.")
    study.add_argument("--seed", type=int, default=13)
    from eval.cli import register as register_eval
    from models.scorer import DEFAULT_WEIGHTS_FILE

    register_eval(sub)
    from evsum.bench.cli import register as register_bench

    register_bench(sub)
    train = add("train-scorer", cmd_train_scorer, "Train the sentence scorer from ../shared/data (seeded).")
    train.add_argument("--pubmedqa", default=str(SHARED_DATA / "pubmedqa" / "pqal_dev.json"),
                       help="PubMedQA file in the ori_pqal.json shape (train split used; dev held out).")
    train.add_argument("--index-dir", default="data/train/pubmedqa-index", help="Where to index its abstracts.")
    train.add_argument("--out", default="data/train/sentence_scorer.json",
                       help=f"Weights file to write; the service loads {DEFAULT_WEIGHTS_FILE} when present.")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--encoder", choices=ENCODER_CHOICES, default="minilm-int8")
    train.add_argument("--no-progress", action="store_true")
    from models.claim_scorer import CLAIM_SCORER_FILE
    from models.question_training import DEFAULT_NEGATIVES

    claims = add("train-claim-scorer", cmd_train_claim_scorer,
                 "Fine-tune the cross-encoder on the SciFact train split and, with --questions, dev questions "
                 "(seeded) and export it as int8 ONNX.")
    claims.add_argument("--claims", default=str(SHARED_DATA / "scifact" / "claims_train.jsonl"))
    claims.add_argument("--corpus", default=str(SHARED_DATA / "scifact" / "corpus.jsonl"))
    claims.add_argument("--pubmedqa", metavar="FILE",
                        help="Also train on the train-split questions of this PubMedQA file (the shipped model "
                        "does without: docs/quality.md).")
    claims.add_argument("--questions", nargs="+", metavar="FILE",
                        help="Also train on these generic gold files' questions (answer sentences against the "
                        "served prior's best other candidates over --index-dir); the shipped graph uses "
                        "eval/dev_questions.jsonl and sets 2 to 8 over an index of ../shared/corpus.")
    claims.add_argument("--index-dir",
                        help="Index of the corpus the --questions are about (default: the configured one).")
    claims.add_argument("--negatives", type=int, default=DEFAULT_NEGATIVES,
                        help=f"Non-answer candidates per question (default {DEFAULT_NEGATIVES}, as shipped).")
    claims.add_argument("--question-weight", type=float, default=0.5,
                        help="Weight in the loss of each question pair against a claim pair's 1, > 0 (default 0.5, "
                        "as shipped: at 1 the graph ranked SciFact dev rationales worse).")
    claims.add_argument("--out", default="data/train/claim_cross_encoder-int8.onnx",
                        help=f"Graph to write (with its .json description); the service loads {CLAIM_SCORER_FILE}.")
    claims.add_argument("--epochs", type=int, default=2)
    claims.add_argument("--seed", type=int, default=0)
    claims.add_argument("--listwise-weight", type=float, default=1.0,
                        help="Weight of the softmax loss over each abstract's sentences (default 1, as shipped; "
                        "0 keeps the pairwise loss only; batches still hold whole abstracts, unlike the fifth "
                        "session's recipe).")
    claims.add_argument("--limit", type=int,
                        help="Train on at most N pairs of each source (a quick check, not for shipping).")
    claims.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evsum`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except EvsumError as error:
        print(f"evsum: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
