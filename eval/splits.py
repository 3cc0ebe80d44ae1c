"""Deterministic train/dev splits shared by scorer training and evaluation.

An item's split depends only on its id (a salted SHA-256), so the same PubMedQA
PubMed id or SciFact claim id lands in the same split in every run, on every
machine, whatever the file order.  About 70 % of ids are ``train``.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["train", "dev"]
SplitChoice = Literal["train", "dev", "all"]

SPLITS: tuple[str, ...] = ("train", "dev", "all")
TRAIN_PERCENT = 70
_SALT = "evsum-split-v1:"


def split_of(item_id: str) -> Split:
    """``"train"`` for about 70 % of ids and ``"dev"`` for the rest, fixed by the id alone."""
    digest = hashlib.sha256((_SALT + str(item_id).strip()).encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return "train" if bucket < TRAIN_PERCENT else "dev"


def in_split(item_id: str, split: str) -> bool:
    """Whether ``item_id`` belongs to ``split`` (``"all"`` matches every id)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    return split == "all" or split_of(item_id) == split
