"""Shared fixtures: real sample PDFs, indexes built once per session, settings for tests."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from evsum.settings import Settings
from indexing.pipeline import run_index
from models.encoders import HashEncoder, MiniLMEncoder
from models.onnx_encoder import OnnxInt8Encoder

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO / "samples" / "corpus"
SHARED = REPO.parent / "shared"
DIABETES_PAPER = SAMPLE_CORPUS / "papers" / "10.1007_s00125-024-06103-w.pdf"
PREPRINT = SAMPLE_CORPUS / "papers" / "10.1101_2024.02.13.580051.pdf"
WHO_DIET = SAMPLE_CORPUS / "guidelines" / "who_emro_healthy_diet_2019.pdf"
CDC_OUTPATIENT = SAMPLE_CORPUS / "guidelines" / "cdc_guide_infection_prevention_outpatient_settings_v2.3_2016.pdf"


def make_settings(index_dir: Path, encoder: str = "hash", database_url: str | None = None) -> Settings:
    """Settings for a test index directory, with a fresh SQLite workflow database beside it."""
    settings = Settings()
    settings.index.index_dir = index_dir
    settings.models.encoder = encoder  # type: ignore[assignment]
    settings.database_url = database_url or f"sqlite:///{index_dir.parent / f'evsum-{uuid.uuid4().hex}.sqlite'}"
    return settings


ROLES = ("clinician", "librarian", "reviewer", "admin")


def add_keys(database_url: str, names: dict[str, str] | None = None) -> dict[str, str]:
    """Create users (name -> role; default one per role, named after it) and return name -> API key."""
    from service.domain import Role
    from service.store.sql import SqlStore

    store = SqlStore.open(database_url)
    try:
        wanted = names or {role: role for role in ROLES}
        return {name: store.add_user(name, Role(role), actor="test")[1] for name, role in wanted.items()}
    finally:
        store.close()


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for an API key."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def hash_encoder() -> HashEncoder:
    """The deterministic fake encoder."""
    return HashEncoder()


@pytest.fixture(scope="session")
def minilm_encoder() -> MiniLMEncoder:
    """The real packaged MiniLM encoder, loaded once per session."""
    encoder = MiniLMEncoder()
    encoder.warm_up()
    return encoder


@pytest.fixture(scope="session")
def int8_encoder(tmp_path_factory: pytest.TempPathFactory) -> OnnxInt8Encoder:
    """The packaged MiniLM exported to int8 ONNX once per session, into a private cache directory."""
    encoder = OnnxInt8Encoder(cache_dir=tmp_path_factory.mktemp("onnx-cache"))
    encoder.warm_up()
    return encoder


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, hash_encoder: HashEncoder) -> Path:
    """The whole sample corpus indexed once with the hash encoder (read-only for tests)."""
    index_dir = tmp_path_factory.mktemp("sample-index")
    run_index([SAMPLE_CORPUS], make_settings(index_dir).index, hash_encoder, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def minilm_index(tmp_path_factory: pytest.TempPathFactory, minilm_encoder: MiniLMEncoder) -> Path:
    """Two sample guidelines indexed once with the real encoder."""
    folder = tmp_path_factory.mktemp("minilm-corpus")
    for pdf in (WHO_DIET, CDC_OUTPATIENT):
        shutil.copy(pdf, folder / pdf.name)
    index_dir = tmp_path_factory.mktemp("minilm-index")
    run_index([folder], make_settings(index_dir, "minilm").index, minilm_encoder, progress=False)
    return index_dir


@pytest.fixture()
def sample_index_copy(sample_index: Path, tmp_path: Path) -> Path:
    """A private copy of the sample index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(sample_index, target)
    return target
