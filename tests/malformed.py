"""Generate bad input files from real PDFs, for the indexer's robustness tests.

``make_malformed(source_pdf, folder, seed)`` writes 50+ files into ``folder``:
zero bytes, truncated at random offsets, bit-flipped, encrypted with and without a
user password, image-only pages, a 2,000-page file, one huge page, JavaScript and
embedded files, wrong extensions (a PDF named .txt or .jsonl, a PNG or HTML named
.pdf, random bytes) and JSONL files with bad lines.  Each returned ``BadFile``
says what the indexer must do with it:

* ``skip``   -- rejected with a one-line reason (unreadable, encrypted, no text ...);
* ``index``  -- a valid document despite its oddity (owner-password only, JavaScript,
  embedded file, huge page);
* ``either`` -- damaged files that MuPDF may repair (truncated, bit-flipped): indexed
  or rejected, but never a crash or a hang;
* ``lines``  -- a JSONL file: its good lines are indexed, each bad line is skipped with
  a reason naming ``file:line``.

Usable from the command line to look at the files: ``python tests/malformed.py OUT_DIR``.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pymupdf

Expect = Literal["skip", "index", "either", "lines"]


@dataclass(frozen=True, slots=True)
class BadFile:
    """One generated file and the outcome the indexer owes it."""

    path: Path
    kind: str
    expect: Expect
    bad_lines: int = 0  # JSONL: how many lines must be reported
    good_lines: int = 0  # JSONL: how many records must be indexed


def _text_pdf(path: Path, pages: int, *, width: float = 595, height: float = 842, lines: int = 12,
              tag: str = "") -> None:
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=width, height=height)
        text = "\n".join(f"Page {number} line {i}: {tag} adults with hypertension were randomised to a "
                         f"lower blood pressure target of 120 mm Hg." for i in range(lines))
        page.insert_text((72, 72), text, fontsize=10)
    doc.save(path)
    doc.close()


def make_malformed(source_pdf: Path, folder: Path, seed: int = 8, *, pages_2000: bool = True) -> list[BadFile]:
    """Write the malformed files into ``folder`` (created) and return what each must give."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    data = source_pdf.read_bytes()
    out: list[BadFile] = []

    def write(name: str, payload: bytes, kind: str, expect: Expect) -> None:
        path = folder / name
        path.write_bytes(payload)
        out.append(BadFile(path, kind, expect))

    write("zero-bytes.pdf", b"", "zero bytes", "skip")
    write("header-only.pdf", b"%PDF-1.7\n", "PDF header only", "skip")
    write("header-and-eof.pdf", b"%PDF-1.4\n%%EOF\n", "PDF header and EOF, no objects", "skip")
    for i in range(14):
        cut = rng.randrange(1, len(data) - 1)
        write(f"truncated-{i:02d}-at-{cut}.pdf", data[:cut], f"truncated at byte {cut}", "either")
    for i in range(14):
        flipped = bytearray(data)
        for _ in range(rng.choice((1, 8, 64, 512))):
            position = rng.randrange(len(flipped))
            flipped[position] ^= 1 << rng.randrange(8)
        write(f"bitflip-{i:02d}.pdf", bytes(flipped), "random bits flipped", "either")
    head = bytearray(data)
    for position in range(0, 64):
        head[position] ^= 0xFF
    write("header-destroyed.pdf", bytes(head), "first 64 bytes inverted", "either")
    for i in range(3):
        write(f"random-bytes-{i}.pdf", rng.randbytes(rng.choice((100, 5000, 200_000))), "random bytes", "skip")
    write("png-named.pdf", _png_bytes(), "a PNG image named .pdf", "skip")
    write("html-named.pdf", b"<!doctype html><html><body><p>Not a PDF</p></body></html>", "HTML named .pdf",
          "skip")
    write("text-named.pdf", b"Plain text, not a PDF.\n" * 50, "plain text named .pdf", "skip")
    write("utf16-named.pdf", "%PDF-1.7 in UTF-16".encode("utf-16"), "UTF-16 text named .pdf", "skip")

    source = pymupdf.open(source_pdf)
    for i, (user, owner, expect) in enumerate((("patient", "owner", "skip"), ("s3cret!", "", "skip"),
                                               ("", "owner-only", "index"))):
        path = folder / f"encrypted-{i}.pdf"
        source.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user, owner_pw=owner or user,
                    permissions=pymupdf.PDF_PERM_PRINT)
        out.append(BadFile(path, "encrypted " + ("with a user password" if user else "owner password only"),
                           expect))  # type: ignore[arg-type]

    for i, pages in enumerate((1, 3)):
        path = folder / f"image-only-{i}.pdf"
        scanned = pymupdf.open()
        for number in range(pages):
            pixmap = source[number].get_pixmap(dpi=40)
            page = scanned.new_page(width=source[number].rect.width, height=source[number].rect.height)
            page.insert_image(page.rect, pixmap=pixmap)
        scanned.save(path)
        scanned.close()
        out.append(BadFile(path, f"image-only, {pages} page(s)", "skip"))

    with_js = pymupdf.open(source_pdf)
    with_js.xref_set_key(with_js.pdf_catalog(), "OpenAction",
                         "<</S/JavaScript/JS(app.alert('evsum must never run this');)>>")
    with_js.save(folder / "javascript.pdf")
    with_js.close()
    out.append(BadFile(folder / "javascript.pdf", "JavaScript OpenAction", "index"))
    with_file = pymupdf.open(source_pdf)
    with_file.embfile_add("payload.exe", b"MZ" + rng.randbytes(2000), filename="payload.exe")
    with_file.save(folder / "embedded-file.pdf")
    with_file.close()
    out.append(BadFile(folder / "embedded-file.pdf", "embedded executable attachment", "index"))
    blank = pymupdf.open()
    blank.new_page()
    blank.save(folder / "blank-page.pdf")
    blank.close()
    out.append(BadFile(folder / "blank-page.pdf", "one blank page", "skip"))
    source.close()

    _text_pdf(folder / "huge-page.pdf", 1, width=14_400, height=14_400, lines=600, tag="huge page")
    out.append(BadFile(folder / "huge-page.pdf", "one 200 x 200 inch page", "index"))
    if pages_2000:
        _text_pdf(folder / "pages-2000.pdf", 2000, lines=3, tag="long file")
        out.append(BadFile(folder / "pages-2000.pdf", "2,000 pages", "either"))

    (folder / "wrong-ext").mkdir(exist_ok=True)
    txt = folder / "wrong-ext" / "paper.txt"
    txt.write_bytes(data)
    out.append(BadFile(txt, "a PDF named .txt (not a source type)", "skip"))
    as_jsonl = folder / "pdf-named.jsonl"
    as_jsonl.write_bytes(data[:20_000])
    out.append(BadFile(as_jsonl, "PDF bytes named .jsonl", "either"))

    good = [{"id": f"ok-{i}", "title": f"Abstract {i}",
             "text": f"In {40 + i} adults a structured exercise programme reduced HbA1c by 0.{i} percentage points."}
            for i in range(3)]
    bad_lines = ["{not json", json.dumps({"id": "no-text", "title": "x"}), json.dumps(["a", "list"]),
                 json.dumps({"id": 7, "text": None}), json.dumps({"id": "", "text": ""}), "\x00\x01\x02",
                 json.dumps({"id": "huge", "text": 12345})]
    lines = [json.dumps(good[0]), *bad_lines[:4], json.dumps(good[1]), *bad_lines[4:], json.dumps(good[2])]
    mixed = folder / "abstracts-bad-lines.jsonl"
    mixed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.append(BadFile(mixed, "JSONL with 7 bad lines among 3 good", "lines", bad_lines=len(bad_lines),
                       good_lines=len(good)))
    only_bad = folder / "abstracts-all-bad.jsonl"
    only_bad.write_text("\n".join(bad_lines) + "\n", encoding="utf-8")
    out.append(BadFile(only_bad, "JSONL with only bad lines", "lines", bad_lines=len(bad_lines)))
    empty = folder / "abstracts-empty.jsonl"
    empty.write_bytes(b"")
    out.append(BadFile(empty, "empty JSONL", "lines"))
    latin = folder / "abstracts-latin1.jsonl"
    latin.write_bytes(json.dumps({"id": "latin", "text": "caf\u00e9 na\u00efve"}, ensure_ascii=False)
                      .encode("latin-1") + b"\n")
    out.append(BadFile(latin, "JSONL in Latin-1, not UTF-8", "either"))
    return out


def _png_bytes() -> bytes:
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 8, 8), False)
    return bytes(pixmap.tobytes("png"))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "malformed-out")
    made = make_malformed(Path(__file__).resolve().parent.parent / "samples/corpus/guidelines/"
                          "who_emro_healthy_diet_2019.pdf", target)
    for bad in made:
        print(f"{bad.expect:6} {bad.path.name}: {bad.kind}")
    print(f"{len(made)} files in {target}")


def hang_crash_or_parse(path: Path) -> object:
    """A parse function for the isolation tests (module level, so a worker process can import it).

    Files named ``hang*`` never return, ``crash*`` kill the worker outright, ``hog*`` try to
    allocate 64 GiB; anything else goes to the real PDF parser.
    """
    import os
    import time

    from indexing.pdf import parse_pdf

    if path.name.startswith("hang"):
        while True:
            time.sleep(1)
    if path.name.startswith("crash"):
        os._exit(139)
    if path.name.startswith("hog"):
        return bytearray(64 * 1024**3)
    return parse_pdf(path)
