"""Re-checking released summaries and rerunning saved questions after the index changes.

A released summary needs review when a document it cites

* was **changed**: re-indexed with other content (an abstract with the same id and another
  SHA-256, or a PDF at the same path whose content, and so id, changed);
* was **removed** from the index altogether;
* is **superseded**: the index holds a guideline with the same issuer and the same title (years,
  version numbers and "update"/"edition" words aside) and a later date or version;
* is **retracted**: its DOI, PMID or document id is on the retraction list (an admin action,
  or a CSV file with a ``doi``, ``pmid`` or ``document_id`` column and an optional ``reason``).

``find_flags`` decides from a release's frozen content (each cited document's SHA-256, issuer,
dates, DOI and PMID are frozen at release) and the loaded snapshot's documents; ``Rechecker``
stores new flags (once per release, document and reason, each with an audit event) and reruns
saved questions, reporting the documents that would now be cited and were not before.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evsum.errors import ClaimScorerUnavailableError, InvalidRequestError
from evsum.records import DocType, Document, Pico, SearchFilters, SummarySentence, scorer_label
from evsum.retrieval import SourcePriority, priority_for
from evsum.settings import SourcePrioritySettings
from evsum.text import squash
from indexing.sidecar import csv_rows, normalise_doi
from service.domain import FlagKind, NewFlag, Release, Retraction, ReviewFlag, SavedQuestion, utcnow
from service.evidence import Evidence, source_metadata
from service.store import DraftRepository, RecheckRepository

RETRACTION_COLUMNS = ("doi", "pmid", "document_id")
CLAIM_SCORER_UNAVAILABLE = "claim_scorer_unavailable"  # a saved claim check that could not be rerun


@dataclass(frozen=True, slots=True)
class SavedQuestionRun:
    """One rerun of a saved question: what it cites now, and which of those documents are new."""

    saved: SavedQuestion
    cited_document_ids: tuple[str, ...]
    new_document_ids: tuple[str, ...]
    new_titles: tuple[str, ...]
    status: str
    # a claim check whose claim scorer changed since its last run: (before, now), each {name, graph_sha256}
    claim_scorer_change: tuple[dict[str, str] | None, dict[str, str] | None] | None = None
    # a saved question whose sentence scorer changed since its last run: (before, now), {name, weights_sha256}
    sentence_scorer_change: tuple[dict[str, str] | None, dict[str, str] | None] | None = None


@dataclass(frozen=True, slots=True)
class RecheckReport:
    """What a re-check found: new flags on releases and the saved questions' reruns."""

    snapshot_id: str | None
    new_flags: tuple[ReviewFlag, ...]
    open_flags: int
    runs: tuple[SavedQuestionRun, ...]

    def lines(self) -> list[str]:
        """A plain-text report (the ``evsum recheck`` output)."""
        out = [f"re-check against snapshot {self.snapshot_id or '(none loaded)'}: {len(self.new_flags)} new "
               f"'needs review' flags ({self.open_flags} open in all)"]
        out += [f"  release {f.release_id} (draft {f.draft_id}) needs review: {f.reason}" for f in self.new_flags]
        for run in self.runs:
            if run.status == CLAIM_SCORER_UNAVAILABLE:
                out.append(f"  saved claim check {run.saved.id} ({run.saved.question!r}): not rerun, no claim "
                           "scorer is installed")
            elif run.new_document_ids:
                out.append(f"  saved question {run.saved.id} ({run.saved.question!r}) would now also cite: "
                           + "; ".join(f"{t} [{d}]" for d, t in zip(run.new_document_ids, run.new_titles)))
            else:
                out.append(f"  saved question {run.saved.id} ({run.saved.question!r}): no new documents")
            for what, change in (("claim scorer", run.claim_scorer_change),
                                 ("sentence scorer", run.sentence_scorer_change)):
                if change is not None:
                    out.append(f"    the {what} changed since its last run ({scorer_label(change[0])} -> "
                               f"{scorer_label(change[1])}): what it cites may differ because of the model, not "
                               "the evidence")
        return out


def _changed(before: dict[str, str] | None, now: dict[str, str] | None) -> bool:
    """Whether a scorer differs from the one of the last run (unknown on either side: not a change). Two
    descriptions of a sentence scorer are compared by their weights alone: a new name is not a new model."""
    if before is None or now is None:
        return False
    if before.get("weights_sha256") and now.get("weights_sha256"):
        return before["weights_sha256"] != now["weights_sha256"]
    return before != now


def _latest_content_documents(release: Release) -> dict[str, dict[str, str]]:
    """Each cited document id with the metadata frozen in the release (title and path at least)."""
    frozen: dict[str, dict[str, str]] = release.content.get("documents", {}) or {}
    out: dict[str, dict[str, str]] = {}
    for sentence in release.content.get("sentences", []):
        citation = sentence.get("citation", {})
        doc_id = citation.get("document_id")
        if doc_id and doc_id not in out:
            out[doc_id] = {"title": citation.get("title", ""), "source_path": citation.get("source_path", ""),
                           **frozen.get(doc_id, {})}
    return out


def edition_key(title: str) -> str:
    """A guideline title without years, version numbers and edition words, squashed for comparison."""
    text = re.sub(r"\b(?:19|20)\d{2}\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\b", " ", title,
                  flags=re.I)
    text = re.sub(r"\b(?:version|v|edition|ed|update[ds]?|revised|revision)\.?\s*[\d.]*", " ", text, flags=re.I)
    text = re.sub(r"\(\s*[-–,.\s]*\)", " ", text)
    return squash(text)


def _date_key(meta: Mapping[str, str]) -> tuple[int, int, tuple[int, ...]]:
    """(year, month, version numbers) of a document's metadata; zeros where unknown."""
    published = str(meta.get("published") or "")
    match = re.match(r"((?:19|20)\d{2})(?:-(\d{1,2}))?", published)
    year = int(match.group(1)) if match else int(meta.get("year") or 0) if str(meta.get("year") or "").isdigit() \
        else 0
    month = int(match.group(2)) if match and match.group(2) else 0
    version = tuple(int(p) for p in re.findall(r"\d+", str(meta.get("version") or "")))
    return year, month, version


def _document_meta(document: Document) -> dict[str, str]:
    """A document's source fields as a release freezes them, with its title and path."""
    return {"title": document.title, "source_path": document.source_path, **source_metadata(document)}


def find_flags(releases: list[Release], documents: Mapping[str, Document] | None,
               retractions: list[Retraction]) -> list[NewFlag]:
    """Every reason to review each current (not withdrawn) release; ``documents`` None skips index checks."""
    retracted = {(r.identifier_kind, r.identifier): r for r in retractions}
    by_path: dict[str, Document] = {}
    guidelines: dict[str, list[Document]] = {}
    for document in (documents or {}).values():
        by_path.setdefault(document.source_path, document)
        if document.source.doc_type is DocType.GUIDELINE:
            guidelines.setdefault(edition_key(document.title), []).append(document)
    flags: list[NewFlag] = []
    for release in releases:
        if release.withdrawal is not None:
            continue
        for doc_id, frozen in _latest_content_documents(release).items():
            current = documents.get(doc_id) if documents is not None else None
            meta = {**(_document_meta(current) if current else {}), **{k: v for k, v in frozen.items() if v}}

            def flag(kind: FlagKind, reason: str, details: dict[str, str], doc_id: str = doc_id,
                     release: Release = release) -> None:
                flags.append(NewFlag(release.id, release.draft_id, doc_id, kind, reason, details))

            title = meta.get("title", doc_id)
            for kind, value in (("doi", normalise_doi(meta.get("doi", ""))), ("pmid", meta.get("pmid", "")),
                                ("document", doc_id)):
                hit = retracted.get((kind, value)) if value else None
                if hit is not None:
                    flag(FlagKind.RETRACTED, f"cited document '{title}' is retracted ({kind} {value}"
                         + (f": {hit.reason}" if hit.reason else "") + ")", {kind: value, "source": hit.source})
                    break
            if documents is None:
                continue
            if current is None:
                replacement = by_path.get(meta.get("source_path", ""))
                if replacement is not None:
                    flag(FlagKind.CHANGED, f"cited document '{title}' was re-indexed with changed content "
                         f"(now document {replacement.id})", {"new_document_id": replacement.id,
                                                              "new_sha256": replacement.sha256})
                else:
                    flag(FlagKind.REMOVED, f"cited document '{title}' is no longer in the index", {})
            elif meta.get("sha256") and frozen.get("sha256") and current.sha256 != frozen["sha256"]:
                flag(FlagKind.CHANGED, f"cited document '{title}' was re-indexed with changed content",
                     {"old_sha256": frozen["sha256"], "new_sha256": current.sha256})
            if meta.get("doc_type") == DocType.GUIDELINE.value:
                newer = _newer_edition(meta, guidelines.get(edition_key(title), []), doc_id)
                if newer is not None:
                    when = newer.source.published or str(newer.source.year or "") or f"version {newer.source.version}"
                    flag(FlagKind.SUPERSEDED, f"cited guideline '{title}' is superseded by a newer version "
                         f"({when}, document {newer.id})", {"new_document_id": newer.id, "new_date": when})
    return flags


def _newer_edition(meta: Mapping[str, str], candidates: list[Document], doc_id: str) -> Document | None:
    """The latest candidate with the same issuer and a later date or version than ``meta``, if any."""
    issuer = squash(meta.get("issuer", ""))
    cited = _date_key(meta)
    later = [d for d in candidates if d.id != doc_id and squash(d.source.issuer) == issuer
             and _date_key(_document_meta(d)) > cited]
    return max(later, key=lambda d: _date_key(_document_meta(d))) if later else None


def read_retraction_list(path: Path) -> list[tuple[str, str, str]]:
    """``(kind, identifier, reason)`` for each row of a retraction CSV (``doi``, ``pmid`` or ``document_id``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRequestError(f"cannot read retraction list {path}: {error}") from error
    return parse_retraction_csv(text, str(path))


def parse_retraction_csv(text: str, where: str) -> list[tuple[str, str, str]]:
    """Retractions from CSV text; ``InvalidRequestError`` for malformed CSV or no identifier column."""
    try:
        rows = csv_rows(text)
    except csv.Error as error:
        raise InvalidRequestError(f"{where}: not a readable CSV retraction list: {error}") from error
    return parse_retractions(rows, where)


def parse_retractions(rows: list[dict[str, str]], where: str) -> list[tuple[str, str, str]]:
    """Retractions from CSV rows; ``InvalidRequestError`` when no identifier column is present."""
    if rows and not any(c in {k.strip().lower() for k in rows[0] if k} for c in RETRACTION_COLUMNS):
        raise InvalidRequestError(f"{where}: a retraction list needs a doi, pmid or document_id column")
    items: list[tuple[str, str, str]] = []
    for row in rows:
        clean = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        reason = clean.get("reason", "")
        if clean.get("doi"):
            items.append(("doi", normalise_doi(clean["doi"]), reason))
        if clean.get("pmid"):
            items.append(("pmid", clean["pmid"], reason))
        if clean.get("document_id"):
            items.append(("document", clean["document_id"], reason))
    return items


class Rechecker:
    """Flags releases that need review and reruns saved questions (the service, the CLI and the API use it)."""

    def __init__(self, drafts: DraftRepository, store: RecheckRepository) -> None:
        self.drafts = drafts
        self.store = store

    def check_releases(self, documents: Mapping[str, Document] | None, actor: str) -> list[ReviewFlag]:
        """Store new flags for every current release citing a changed, removed, superseded or retracted document."""
        flags = find_flags(self.drafts.list_releases(), documents, self.store.retractions())
        return self.store.add_flags(flags, actor)

    def retract(self, items: list[tuple[str, str, str]], source: str, actor: str,
                documents: Mapping[str, Document] | None) -> tuple[list[Retraction], list[ReviewFlag]]:
        """Record retractions, then flag the releases that cite them."""
        if not items:
            raise InvalidRequestError("give a DOI, PMID or document id to mark retracted")
        added = self.store.add_retractions(items, source, actor)
        return added, self.check_releases(documents, actor)

    def save_question(self, owner: str, question: str, pico: dict[str, str] | None, filters: SearchFilters,
                      source_priority: bool | None, evidence: Evidence | None,
                      priority: SourcePriority | None, *, claim: bool = False) -> SavedQuestion:
        """Save a question (or, with ``claim``, a claim to check) with its filters; when the index is loaded,
        remember what it cites today."""
        if not question.strip():
            raise InvalidRequestError("a saved question needs the question text")
        cited: tuple[str, ...] = ()
        snapshot = None
        scorer = sentence_scorer = None
        now = utcnow()
        if evidence is not None:
            summary = evidence.summarise(question, 5, pico=Pico(**pico) if pico else None, filters=filters,
                                         priority=priority, claim=claim)
            cited = _cited(summary.sentences)
            snapshot = evidence.snapshot_id
            scorer = evidence.claim_scorer() if claim else None
            sentence_scorer = evidence.sentence_scorer()
        saved = SavedQuestion(id=0, question=question.strip(), pico=pico or None, filters=filters_to_json(filters),
                              source_priority=source_priority, owner=owner, created_at=now,
                              last_run_at=now if evidence else None, last_snapshot_id=snapshot,
                              cited_document_ids=cited, claim=claim, last_claim_scorer=scorer,
                              last_sentence_scorer=sentence_scorer)
        return self.store.save_question(saved)

    def rerun_saved(self, evidence: Evidence, titles: Mapping[str, str], actor: str,
                    priority: SourcePrioritySettings, *, only_stale: bool = False) -> list[SavedQuestionRun]:
        """Rerun saved questions; report the documents each would now cite that it did not before.

        ``only_stale`` reruns only those last run against another snapshot, by another sentence scorer (or by
        one not recorded: saved before migration 0005), or (claim checks) by another claim scorer: the service's
        start-up job. A run says when a recorded scorer changed since the last one. A saved claim check is
        rerun as a claim; when no claim scorer is installed it is reported with status
        ``claim_scorer_unavailable`` and left as it was, to be rerun once one is.
        """
        runs = []
        saved_questions = self.store.saved_questions()
        scorer = evidence.claim_scorer() if any(s.claim for s in saved_questions) else None
        sentence_scorer = evidence.sentence_scorer()
        for saved in saved_questions:
            scorer_changed = saved.claim and _changed(saved.last_claim_scorer, scorer)
            sentence_scorer_changed = _changed(saved.last_sentence_scorer, sentence_scorer)
            if (only_stale and saved.last_snapshot_id == evidence.snapshot_id and not scorer_changed
                    and not sentence_scorer_changed and saved.last_sentence_scorer is not None):
                continue
            try:
                summary = evidence.summarise(saved.question, 5, pico=Pico(**saved.pico) if saved.pico else None,
                                             filters=filters_from_json(saved.filters),
                                             priority=priority_for(priority, saved.source_priority), claim=saved.claim)
            except ClaimScorerUnavailableError:
                runs.append(SavedQuestionRun(saved, saved.cited_document_ids, (), (), CLAIM_SCORER_UNAVAILABLE))
                continue
            cited = _cited(summary.sentences)
            new = [d for d in cited if d not in saved.cited_document_ids]
            stored = self.store.record_run(saved.id, evidence.snapshot_id, cited, new, actor,
                                           scorer if saved.claim else None, sentence_scorer)
            runs.append(SavedQuestionRun(stored, cited, tuple(new), tuple(titles.get(d, d) for d in new),
                                         summary.status,
                                         (saved.last_claim_scorer, scorer) if scorer_changed else None,
                                         (saved.last_sentence_scorer, sentence_scorer) if sentence_scorer_changed
                                         else None))
        return runs

    def recheck(self, evidence: Evidence | None, documents: Mapping[str, Document] | None, actor: str,
                priority: SourcePrioritySettings, *, only_stale: bool = False) -> RecheckReport:
        """Flag releases, then rerun saved questions (when an index is loaded)."""
        flags = self.check_releases(documents, actor)
        runs = self.rerun_saved(evidence, {d.id: d.title for d in (documents or {}).values()}, actor,
                                priority, only_stale=only_stale) if evidence is not None else []
        return RecheckReport(evidence.snapshot_id if evidence else None, tuple(flags),
                             len(self.store.flags(open_only=True)), tuple(runs))


def _cited(sentences: Sequence[SummarySentence]) -> tuple[str, ...]:
    """The cited document ids in order of first citation."""
    return tuple(dict.fromkeys(s.citation.document_id for s in sentences))


def filters_to_json(filters: SearchFilters) -> dict[str, object]:
    """A JSON object of the filters (as stored with a saved question)."""
    return {"year_from": filters.year_from, "year_to": filters.year_to, "doc_types": list(filters.doc_types),
            "issuers": list(filters.issuers), "languages": list(filters.languages)}


def filters_from_json(raw: Mapping[str, object]) -> SearchFilters:
    """The filters stored by ``filters_to_json``."""
    def items(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    def year(key: str) -> int | None:
        value = raw.get(key)
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None

    return SearchFilters(year_from=year("year_from"), year_to=year("year_to"), doc_types=items("doc_types"),
                         issuers=items("issuers"), languages=items("languages"))
