"""Redact patient details from free text before it is stored, logged or audited.

Clinical questions may carry patient identifiers.  ``redact`` replaces

* NHS numbers: 10 digits (``943 476 5919``, ``943-476-5919``, ``9434765919``) whose
  modulus-11 check digit is valid -> ``[NHS NUMBER]``;
* dates that could be a date of birth: day, month and year (``14/03/1962``,
  ``14-3-62``, ``1962-03-14``, ``14 March 1962``, ``March 14th, 1962``) -> ``[DATE]``;
* UK postcodes (``SW1A 1AA``, ``m1 1ae``) -> ``[POSTCODE]``;
* UK phone numbers (``07700 900123``, ``+44 20 7946 0958``, ``(0161) 496 0000``) -> ``[PHONE]``;
* email addresses -> ``[EMAIL]``.

Clinical numbers (doses, percentages, years, durations, ``HbA1c 48 mmol/mol``) are
left alone.  ``redact_secrets`` removes API keys and bearer tokens from log text.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import unquote_plus

from pydantic import BaseModel, PrivateAttr, model_validator

NHS_NUMBER = "nhs_number"
DATE = "date"
POSTCODE = "postcode"
PHONE = "phone"
EMAIL = "email"

_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_NHS_CANDIDATE = re.compile(r"(?<![\d+])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
_DAY = r"(?:3[01]|[12]\d|0?[1-9])"
_MONTH = r"(?:1[0-2]|0?[1-9])"
_END = r"(?!\d|[/.-]\d)"
_DATES = (
    re.compile(rf"(?<![\d/.-]){_DAY}([/.-]){_MONTH}\1(?:19|20)\d{{2}}{_END}"),
    re.compile(rf"(?<![\d/.-]){_DAY}/{_MONTH}/\d{{2}}{_END}"),
    re.compile(rf"(?<![\d/.-])(?:19|20)\d{{2}}([/.-]){_MONTH}\1{_DAY}{_END}"),
    re.compile(rf"(?<!\w){_DAY}(?:st|nd|rd|th)?(?:\s+of)?\s+(?:{_MONTHS})\.?,?\s+(?:(?:19|20)\d{{2}}|'\d{{2}})(?!\d)",
               re.IGNORECASE),
    re.compile(rf"(?<!\w)(?:{_MONTHS})\.?\s+{_DAY}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}(?!\d)", re.IGNORECASE),
)
# Outward code, then the inward code: a digit and two letters that are never C, I, K, M, O or V.
_POSTCODE = re.compile(r"(?<![\w])(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?|GIR)\s*\d[ABD-HJLNP-UW-Z]{2}(?!\w)", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|\(?0)(?:\d[\s)-]{0,2}){8,10}\d(?!\d)")
_SECRET = re.compile(r"(?:evsum_[A-Za-z0-9_-]{20,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,})")


@dataclass(frozen=True, slots=True)
class Redacted:
    """Text with patient details replaced, and what kinds were found (in order of first appearance)."""

    text: str
    kinds: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything was redacted."""
        return bool(self.kinds)


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number modulus-11 check: weights 10..2 on the first nine digits; check digit 11 - sum % 11."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def redact(text: str) -> Redacted:
    """Replace NHS numbers, dates of birth, postcodes, phone numbers and emails in ``text``."""
    kinds: list[str] = []

    def sub(pattern: re.Pattern[str], kind: str, label: str, value: str, keep: object = None) -> str:
        def replace(match: re.Match[str]) -> str:
            if callable(keep) and keep(match):
                return match.group(0)
            if kind not in kinds:
                kinds.append(kind)
            return label

        return pattern.sub(replace, value)

    out = sub(_EMAIL, EMAIL, "[EMAIL]", text)
    out = sub(_NHS_CANDIDATE, NHS_NUMBER, "[NHS NUMBER]", out,
              keep=lambda m: not nhs_number_is_valid("".join(m.groups())))
    for pattern in _DATES:
        out = sub(pattern, DATE, "[DATE]", out)
    out = sub(_PHONE, PHONE, "[PHONE]", out)
    out = sub(_POSTCODE, POSTCODE, "[POSTCODE]", out)
    return Redacted(out, tuple(kinds))


def redact_secrets(text: str) -> str:
    """Replace API keys (``evsum_...``) and bearer tokens with ``[REDACTED KEY]``."""
    return _SECRET.sub("[REDACTED KEY]", text)


def describe(kinds: tuple[str, ...] | list[str]) -> str:
    """A sentence for the user: which details were removed from their question."""
    names = {NHS_NUMBER: "an NHS number", DATE: "a date", POSTCODE: "a postcode", PHONE: "a phone number",
             EMAIL: "an email address"}
    found = [names.get(k, k) for k in kinds]
    if not found:
        return ""
    listed = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]
    return f"Patient details were removed from your question before it was used or stored: {listed}."


class RedactingFilter(logging.Filter):
    """A logging filter that removes API keys and patient details from every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message, its arguments and any traceback in place; never drops a record."""
        if isinstance(record.msg, str):
            record.msg = _clean(record.msg)
        if isinstance(record.args, tuple):  # keep the shape: formatters (uvicorn's access log) unpack it
            record.args = tuple(_clean(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _clean(record.exc_text)
        return True


def _clean(text: str) -> str:
    cleaned = redact(redact_secrets(text)).text
    decoded = unquote_plus(text)  # a URL with a query string, as in access-log lines
    if decoded != text:
        redacted = redact(redact_secrets(decoded)).text
        if redacted != decoded:
            return redacted
    return cleaned


def install_log_redaction(*logger_names: str) -> RedactingFilter:
    """Attach one ``RedactingFilter`` to the handlers of the named loggers (and the root logger's)."""
    redacting = RedactingFilter()
    for name in ("", *logger_names):
        logger = logging.getLogger(name)
        if redacting not in logger.filters:
            logger.addFilter(redacting)
        for handler in logger.handlers:
            if redacting not in handler.filters:
                handler.addFilter(redacting)
    return redacting


class RedactsQuestion(BaseModel):
    """Base for request bodies with a ``question`` (and optional ``pico``): patient details are removed
    during validation, so no handler, store, log or audit event ever sees them; ``redactions`` says what went."""

    _redactions: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _redact_patient_details(self) -> Self:
        kinds: list[str] = []
        question = getattr(self, "question", None)
        if isinstance(question, str):
            redacted = redact(question)
            self.question = redacted.text
            kinds += redacted.kinds
        pico = getattr(self, "pico", None)
        if isinstance(pico, BaseModel):
            for name, value in pico.model_dump().items():
                if isinstance(value, str):
                    cleaned = redact(value)
                    setattr(pico, name, cleaned.text)
                    kinds += [k for k in cleaned.kinds if k not in kinds]
        self._redactions = tuple(kinds)
        return self

    @property
    def redactions(self) -> tuple[str, ...]:
        """Kinds of patient detail removed (empty when none)."""
        return self._redactions


def server_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with ``RedactingFilter`` on every handler, evsum's loggers included.

    Access-log lines carry query strings (``GET /v1/releases?question=...``), so they are
    redacted too; API keys never reach a log line.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "service.redaction.RedactingFilter"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    config["loggers"]["evsum"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
