"""The PDF parser on the real sample PDFs (and on bad inputs made from them).

Samples: a two-column Diabetologia paper, a bioRxiv preprint, a WHO and a CDC guideline.
Each is parsed once per module; the assertions below are the behaviours the indexer relies
on: clean page text, regions and line boxes that match it, reading order across columns,
running headers and line numbers gone, sections, references, tables and captions found,
and every kind of unreadable file reported with a one-line reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from evsum.errors import UnreadableDocumentError
from evsum.records import Role
from indexing.parsed import ParsedSource
from indexing.pdf import parse_pdf

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "corpus"
PAPER = SAMPLES / "papers" / "10.1007_s00125-024-06103-w.pdf"  # Diabetologia, two columns
PREPRINT = SAMPLES / "papers" / "10.1101_2024.02.13.580051.pdf"  # bioRxiv
WHO = SAMPLES / "guidelines" / "who_emro_healthy_diet_2019.pdf"
CDC = SAMPLES / "guidelines" / "cdc_guide_infection_prevention_outpatient_settings_v2.3_2016.pdf"
ALL = [PAPER, PREPRINT, WHO, CDC]
# A shared-corpus preprint that prints line numbers in its text layer (the sample one does not).
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NUMBERED = SHARED / "papers" / "10.1101_2024.05.13.593936.pdf"
AES_256: int = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def parsed() -> dict[Path, ParsedSource]:
    """Every sample parsed once, with table detection on."""
    return {path: parse_pdf(path) for path in ALL}


def regions_of(source: ParsedSource, role: Role | None = None) -> list[tuple[int, str, Role, str | None]]:
    """(page, text, role, section) of each region, optionally of one role only."""
    return [
        (r.page, source.pages[r.page - 1].text[r.char_start : r.char_end], r.role, r.section)
        for r in source.regions
        if role is None or r.role is role
    ]


# ----------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem[:24])
def test_page_count_and_sizes_match_pymupdf(parsed: dict[Path, ParsedSource], path: Path) -> None:
    source = parsed[path]
    with pymupdf.open(path) as pdf:
        assert len(source.pages) == pdf.page_count
        for page, ours in zip(pdf, source.pages):
            assert ours.number == page.number + 1
            assert (ours.width, ours.height) == pytest.approx((page.rect.width, page.rect.height))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem[:24])
def test_regions_tile_the_page_text_without_overlap(parsed: dict[Path, ParsedSource], path: Path) -> None:
    source = parsed[path]
    for page in source.pages:
        regions = sorted((r for r in source.regions if r.page == page.number), key=lambda r: r.char_start)
        end = 0
        for region in regions:
            assert 0 <= region.char_start < region.char_end <= len(page.text)
            assert region.char_start >= end, "regions overlap"
            chunk = page.text[region.char_start : region.char_end]
            assert chunk == chunk.strip() and "\n\n" not in chunk
            end = region.char_end
        # Regions cover everything except the blank-line separators between blocks.
        assert "\n\n".join(page.text[r.char_start : r.char_end] for r in regions) == page.text


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem[:24])
def test_line_boxes_match_the_page_text(parsed: dict[Path, ParsedSource], path: Path) -> None:
    source = parsed[path]
    for page in source.pages:
        previous_end = 0
        for box in page.lines:
            assert previous_end <= box.char_start < box.char_end <= len(page.text)
            assert "\n" not in page.text[box.char_start : box.char_end]
            assert -1 <= box.x0 < box.x1 <= page.width + 1 and -1 <= box.y0 < box.y1 <= page.height + 1
            previous_end = box.char_end
        # Every character of the page text but the joins between lines lies on an emitted line.
        on_a_line = [False] * len(page.text)
        for box in page.lines:
            on_a_line[box.char_start : box.char_end] = [True] * (box.char_end - box.char_start)
        assert all(covered or char in " \n" for char, covered in zip(page.text, on_a_line))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem[:24])
def test_page_text_is_clean(parsed: dict[Path, ParsedSource], path: Path) -> None:
    for page in parsed[path].pages:
        text = page.text
        assert not re.search(r"[\x00-\x09\x0b-\x1f\xad\u00a0\u200b\ufb00-\ufb06\ufffd]", text)
        assert "  " not in text and " \n" not in text and "\n " not in text
        assert not re.search(r"^\s*\d{1,4}\s*$", text, re.MULTILINE), "bare page or line number"


def test_line_boxes_sit_where_pymupdf_finds_the_words(parsed: dict[Path, ParsedSource]) -> None:
    page = parsed[PAPER].pages[1]
    phrase = "Sulfonylurea drugs, widely used to treat type"
    start = page.text.index(phrase)
    box = next(b for b in page.lines if b.char_start <= start < b.char_end)
    with pymupdf.open(PAPER) as pdf:
        hits = pdf[1].search_for("Sulfonylurea drugs")
    assert hits and any(pymupdf.Rect(box.x0, box.y0, box.x1, box.y1).intersects(hit) for hit in hits)


# -------------------------------------------------------------------- text and reading order


def test_two_column_sentences_read_in_order(parsed: dict[Path, ParsedSource]) -> None:
    page2, page3 = parsed[PAPER].pages[1].text, parsed[PAPER].pages[2].text
    # Within the left column, across four lines (and a hyphenated "dia-betes").
    assert (
        "Sulfonylurea drugs, widely used to treat type 2 diabetes, bypass metabolism and close the KATP "
        "channel directly, thus stimulating insulin release in both neonatal and type 2 diabetes [7]."
    ) in page2
    # From the bottom of the left column to the top of the right one.
    assert (
        "Several small molecules have been shown to correct channel biogenesis and trafficking defects "
        "but none are yet used clinically [10–12]."
    ) in page2
    # Across the column break with the caption of Table 1 placed in between.
    assert (
        "pcDNA4/TO or pBF expression vectors were used to express the human Kir6.2 or SUR1 genes "
        "(KCNJ11 and ABCC8, respectively)."
    ) in page3
    # The left column is read before the right one.
    assert page2.index("exocytosis, thereby linking") < page2.index("It is becoming increasingly evident")


def test_line_end_hyphens(parsed: dict[Path, ParsedSource]) -> None:
    text = parsed[PAPER].pages[1].text
    assert "congenital hyperinsulinism [2–4]" in text  # "hyperinsu-" + "linism"
    assert "Diazoxide therapy is often ineffective because" in text  # "ineffec-" + "tive"
    assert "ABCC8-E1506K" in text  # a hyphen before an upper-case continuation stays
    assert "https://doi.org/10.1152/physrev.00022.2003" in parsed[PAPER].pages[10].text  # URL rejoined


def test_running_headers_and_footers_are_dropped(parsed: dict[Path, ParsedSource]) -> None:
    for page in parsed[PAPER].pages:
        assert "Diabetologia (2024) 67:940–951" not in page.text
        assert "Vol:.(1234567890)" not in page.text
    for page in parsed[PREPRINT].pages:
        assert "The copyright holder for this preprint" not in page.text
        assert "bioRxiv preprint" not in page.text
    assert not any("Version 2.3 - September 2016" in p.text for p in parsed[CDC].pages)
    body = " ".join(text for _, text, _, _ in regions_of(parsed[PAPER], Role.BODY))
    assert "https://doi.org/10.1007/s00125-024-06103-w" not in body


def test_preprint_has_no_margin_line_numbers(parsed: dict[Path, ParsedSource]) -> None:
    source = parsed[PREPRINT]
    for page in source.pages:
        assert not any(re.fullmatch(r"\d{1,4}", line.strip()) for line in page.text.split("\n"))
    for _, text, _, _ in regions_of(source, Role.BODY):
        assert not re.search(r"(?:\b\d{1,4}\s+){4,}", text), text[:80]
    intro = " ".join(text for _, text, _, sec in regions_of(source, Role.BODY) if sec == "Introduction")
    assert "TLS polymerases include the Y-family polymerases eta (η), iota (ι), kappa (κ), and Rev1" in intro


def test_margin_line_numbers_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "numbered.pdf"
    words = ["the", "treatment", "group", "showed", "fewer", "adverse", "events", "than", "the", "control"]
    words += ["group", "over", "time"]
    number = 1
    with pymupdf.open() as pdf:
        for page_index in range(2):
            page = pdf.new_page(width=595, height=842)
            for row in range(30):
                y = 90 + row * 22
                page.insert_text((36, y), str(number), fontsize=9)  # the margin line number
                line = " ".join(words[(row + page_index) % 5 :][:8])
                page.insert_text((72, y), line, fontsize=11)
                number += 1
        pdf.save(path)
    source = parse_pdf(path)
    assert [p.text.split(" ", 1)[0] for p in source.pages] == ["the", "treatment"]
    for page in source.pages:
        assert not re.search(r"\d", page.text)
        assert len(page.lines) == 30
    assert all(r.role is Role.BODY for r in source.regions)


@pytest.mark.skipif(not NUMBERED.exists(), reason="shared corpus not available")
def test_real_line_numbered_preprint() -> None:
    source = parse_pdf(NUMBERED, detect_tables=False)
    page = source.pages[3].text
    assert (
        "However, the interaction of proteins in the cellular environment is a more complex situation, "
        "and many interactions detected in vivo are not detected in vitro"
    ) in page
    assert not re.search(r"\b1[23]\d [A-Za-z]", page)


def test_figure_labels_are_not_body_text(parsed: dict[Path, ParsedSource]) -> None:
    page9 = parsed[PAPER].pages[8].text
    assert "TM2 TM1" not in page9 and "\nE140\n" not in page9
    assert "Several possibilities might account for our patient’s diabetes." in page9


# -------------------------------------------------------------------- roles and sections


def test_section_headings_and_sections(parsed: dict[Path, ParsedSource]) -> None:
    headings = [text for _, text, _, _ in regions_of(parsed[PAPER], Role.HEADING)]
    for name in ("Abstract", "Introduction", "Methods", "Results", "Discussion", "References"):
        assert name in headings
    sections = {section for _, _, _, section in regions_of(parsed[PAPER], Role.BODY)}
    assert {"Introduction", "Methods", "Results", "Discussion", "Conclusions", "Funding"} <= sections
    methods = [text for _, text, _, section in regions_of(parsed[PAPER], Role.BODY) if section == "Methods"]
    assert any(text.startswith("Ethics statement Our research studies") for text in methods)
    assert any("HEK-293T cells were obtained from LGC Standards" in text for text in methods)
    preprint = {section for _, _, _, section in regions_of(parsed[PREPRINT])}
    assert {"Abstract", "Introduction", "Results", "Discussion", "Materials and Methods"} <= preprint
    assert "References" in preprint
    cdc = {section for _, _, _, section in regions_of(parsed[CDC])}
    assert {"Introduction", "Objectives", "References"} <= cdc


def test_heading_set_apart_only_by_its_font_family(parsed: dict[Path, ParsedSource]) -> None:
    # CDC page 8: "Hand Hygiene" (Helvetica, 12 pt, not bold) opens a PyMuPDF block whose other
    # lines are Garamond body text; it is a heading of its own and the paragraph starts after it.
    page8 = [(text, role, section) for page, text, role, section in regions_of(parsed[CDC]) if page == 8]
    texts = [text for text, _, _ in page8]
    i = texts.index("Hand Hygiene")
    assert page8[i][1] is Role.HEADING
    assert page8[i + 1][1] is Role.BODY and texts[i + 1].startswith("Good hand hygiene, including use of")
    assert page8[i + 1][2] == page8[i][2]  # a subheading: the major section stays the same
    assert not any(text.startswith("Hand Hygiene Good") for text in texts)
    # Same-family style changes (italic titles inside paragraphs) never split a paragraph.
    assert any("Another tool is the Infection Prevention Checklist" in text for text in texts)


def test_title_case_section_names(parsed: dict[Path, ParsedSource]) -> None:
    # The CDC guide sets its headings in capitals; sections come out in title case.
    sections = {section for _, _, _, section in regions_of(parsed[CDC]) if section}
    assert (
        "Fundamental Elements Needed to Prevent Transmission of Infectious Agents in Outpatient Settings"
    ) in sections
    assert not any(section.isupper() and len(section) > 4 for section in sections)


@pytest.mark.parametrize("path", [PAPER, PREPRINT, WHO], ids=lambda p: p.stem[:24])
def test_references_are_recognised(parsed: dict[Path, ParsedSource], path: Path) -> None:
    references = regions_of(parsed[path], Role.REFERENCE)
    assert len(references) >= 10
    assert all(section == "References" for _, _, _, section in references)
    if path is not WHO:
        assert sum("et al" in text for _, text, _, _ in references) >= 10
    # Nothing after the start of the reference list is summarisable body text.
    roles = [r.role for r in parsed[path].regions]
    assert Role.BODY not in roles[roles.index(Role.REFERENCE) :]


def test_references_are_split_one_per_region(parsed: dict[Path, ParsedSource]) -> None:
    texts = [text for _, text, _, _ in regions_of(parsed[PAPER], Role.REFERENCE)]
    numbered = [t for t in texts if re.match(r"\d{1,2}\. ", t)]
    assert len(numbered) >= 40
    assert not any(re.search(r"\. \d{1,2}\. [A-Z][a-z]+ [A-Z]{1,3}[, ]", t) for t in numbered)


def test_captions_and_tables(parsed: dict[Path, ParsedSource]) -> None:
    captions = [text for _, text, _, _ in regions_of(parsed[PAPER], Role.CAPTION)]
    assert any(text.startswith("Fig. 5 Location of S118L in Kir6.2.") for text in captions)
    assert "Table 1 Source of reagents and antibodies" in captions
    tables = regions_of(parsed[PAPER], Role.TABLE)
    assert [page for page, *_ in tables] == [3]
    table = tables[0][1]
    assert "Glibenclamide | G0639 | NA | Sigma-Aldrich, UK" in table.split("\n")
    assert "Reagent / antibody | Catalogue no. | Concentration and storage buffer | Source" in table
    # Text of the table is not repeated as body text.
    body3 = [text for page, text, _, _ in regions_of(parsed[PAPER], Role.BODY) if page == 3]
    assert not any("G0639" in text for text in body3)


def test_tables_can_be_switched_off() -> None:
    source = parse_pdf(PAPER, detect_tables=False)
    assert not regions_of(source, Role.TABLE)
    assert "G0639" in source.pages[2].text


def test_title_and_metadata(parsed: dict[Path, ParsedSource]) -> None:
    paper = parsed[PAPER]
    # The PDF's own title metadata is cut short ("A loss-of-function mutation in"): page 1 completes it.
    assert paper.title.startswith("A loss") and paper.title.endswith("diabetes in early adult life")
    assert paper.metadata["doi"] == "10.1007/s00125-024-06103-w"
    assert paper.metadata["year"] == "2024"
    assert paper.metadata["author"].startswith("Natascia Vedovato")
    assert parsed[PREPRINT].title.startswith("REV1 Coordinates a Multi-Faceted Tolerance Response")
    assert parsed[PREPRINT].metadata["doi"] == "10.1101/2024.02.13.580051"
    assert parsed[WHO].title == "Healthy diet"
    assert parsed[CDC].title.startswith("Guide to Infection Prevention")


# ----------------------------------------------------------------------------- bad inputs


def _image_only(path: Path) -> None:
    with pymupdf.open(WHO) as source, pymupdf.open() as pdf:
        pixmap = source[0].get_pixmap(dpi=40)
        page = pdf.new_page(width=source[0].rect.width, height=source[0].rect.height)
        page.insert_image(page.rect, pixmap=pixmap)
        pdf.save(path)


def _encrypted(path: Path) -> None:
    with pymupdf.open(WHO) as pdf:
        pdf.save(path, encryption=AES_256, user_pw="x", owner_pw="y")


def _truncated(source: Path, fraction: int) -> Callable[[Path], object]:
    return lambda path: path.write_bytes(source.read_bytes()[: source.stat().st_size // fraction])


CORRUPT = "corrupt or truncated PDF"
BAD_INPUTS: dict[str, tuple[Callable[[Path], object], str]] = {
    "empty": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "truncated-half": (_truncated(PAPER, 2), CORRUPT),
    "truncated-third": (_truncated(WHO, 3), CORRUPT),
    "garbage": (lambda p: p.write_bytes(os.urandom(4096)), "not a PDF file"),
    "pdf-header-then-garbage": (lambda p: p.write_bytes(b"%PDF-1.7\n" + os.urandom(4096)), CORRUPT),
    "text-file": (lambda p: p.write_text("Patients were randomised.\n" * 50), "not a PDF file"),
    "encrypted": (_encrypted, "encrypted PDF (password required)"),
    "image-only": (_image_only, "no text layer (image-only PDF; OCR is not supported)"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_unreadable_files_raise_with_a_reason(tmp_path: Path, kind: str) -> None:
    make, reason = BAD_INPUTS[kind]
    path = tmp_path / f"{kind}.pdf"
    make(path)
    with pytest.raises(UnreadableDocumentError) as caught:
        parse_pdf(path)
    assert caught.value.reason.startswith(reason)
    assert "\n" not in caught.value.reason and len(caught.value.reason) <= 160
    assert caught.value.path == str(path)


def test_pdf_with_only_an_owner_password_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "owner-only.pdf"
    with pymupdf.open(WHO) as pdf:
        pdf.save(path, encryption=AES_256, user_pw="", owner_pw="owner")
    source = parse_pdf(path)
    assert source.title == "Healthy diet" and len(source.pages) == 20
    assert any("fruits and vegetables" in page.text for page in source.pages)
