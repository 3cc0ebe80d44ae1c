"""Indexed documents and their page text (the ground truth every citation points into)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response

from evsum.errors import InvalidRequestError, NotFoundError
from evsum.render import render_page_png
from service.deps import EngineDep
from service.schemas import DocumentListOut, DocumentOut, Highlight, PageOut

router = APIRouter(prefix="/v1/documents", tags=["documents"])

Offset = Annotated[int | None, Query(ge=0, description="Highlight start offset into the page text.")]


@router.get("", response_model=DocumentListOut, summary="List indexed documents")
def list_documents(engine: EngineDep) -> DocumentListOut:
    """Every document of the loaded snapshot, in indexing order."""
    reader = engine.reader
    return DocumentListOut(snapshot_id=reader.snapshot_id,
                           documents=[DocumentOut.of(reader.documents[i]) for i in reader.document_ids])


@router.get("/{document_id}", response_model=DocumentOut, summary="One document and its metadata")
def get_document(document_id: str, engine: EngineDep) -> DocumentOut:
    """Title, source path, SHA-256, page count and metadata."""
    return DocumentOut.of(engine.reader.document(document_id))


def _highlight(text: str, char_start: int | None, char_end: int | None) -> Highlight | None:
    if char_start is None and char_end is None:
        return None
    if char_start is None or char_end is None or not char_start < char_end <= len(text):
        raise InvalidRequestError(
            f"highlight offsets must satisfy 0 <= char_start < char_end <= {len(text)} (page text length)")
    return Highlight(char_start=char_start, char_end=char_end)


@router.get("/{document_id}/pages/{page}", response_model=PageOut, summary="Extracted text of one page")
def get_page(document_id: str, page: int, engine: EngineDep, char_start: Offset = None,
             char_end: Offset = None) -> PageOut:
    """The page text; with offsets, the span to highlight is echoed back after validation."""
    record = engine.reader.page(document_id, page)
    return PageOut(document_id=document_id, page=page, text=record.text,
                   highlight=_highlight(record.text, char_start, char_end))


@router.get("/{document_id}/pages/{page}/image", summary="The PDF page as PNG, span highlighted",
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
def get_page_image(document_id: str, page: int, engine: EngineDep, char_start: Offset = None,
                   char_end: Offset = None,
                   zoom: Annotated[float, Query(gt=0.25, le=4.0)] = 1.5) -> Response:
    """Rendered with PyMuPDF; the highlight is drawn from the stored line boxes."""
    document = engine.reader.document(document_id)
    if document.source_kind != "pdf":
        raise NotFoundError(f"document {document_id!r} is an abstract: it has no PDF page to render")
    record = engine.reader.page(document_id, page)
    highlight = _highlight(record.text, char_start, char_end)
    png = render_page_png(Path(document.source_path), record,
                          highlight.char_start if highlight else None,
                          highlight.char_end if highlight else None, zoom)
    return Response(content=png, media_type="image/png")
