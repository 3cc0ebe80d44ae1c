"""One contract for every encoder: the real MiniLM and the hash fake must both satisfy it."""

from __future__ import annotations

import numpy as np
import pytest

from models.encoders import Encoder, HashEncoder, MiniLMEncoder

TEXTS = [
    "Hand hygiene should be performed before and after every patient contact.",
    "Alcohol-based hand rub is preferred when hands are not visibly soiled.",
    "Free sugars intake should be reduced to less than 10% of total energy intake.",
]


@pytest.fixture(params=["hash", "minilm", "minilm-int8"])
def encoder(request: pytest.FixtureRequest) -> Encoder:
    if request.param == "hash":
        return HashEncoder()
    if request.param == "minilm-int8":
        return request.getfixturevalue("int8_encoder")  # type: ignore[no-any-return]
    return request.getfixturevalue("minilm_encoder")  # type: ignore[no-any-return]


def test_contract_shapes_dtype_and_unit_norm(encoder: Encoder) -> None:
    assert isinstance(encoder, Encoder)
    for vectors in (encoder.encode_passages(TEXTS), encoder.encode_queries(TEXTS[:1])):
        assert vectors.dtype == np.float32 and vectors.shape[1] == encoder.dim
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode_passages([]).shape == (0, encoder.dim)
    assert 0.0 < encoder.relevance_floor < 1.0


def test_contract_deterministic_and_similarity_ordered(encoder: Encoder) -> None:
    first, second = encoder.encode_passages(TEXTS), encoder.encode_passages(TEXTS)
    assert np.allclose(first, second, atol=1e-5)
    query = encoder.encode_queries(["hand hygiene before patient contact"])[0]
    scores = first @ query
    assert scores[0] > scores[2], "the hand-hygiene sentence must beat the sugar sentence"


def test_minilm_loads_from_the_package_offline(minilm_encoder: MiniLMEncoder) -> None:
    assert minilm_encoder.name == "sentence-transformers:all-MiniLM-L6-v2"
    assert minilm_encoder.dim == 384


def test_hash_encoder_is_stable_across_processes() -> None:
    # Pinned values: BLAKE2b hashing does not depend on PYTHONHASHSEED.
    vector = HashEncoder(dim=16).encode_passages(["hand hygiene"])[0]
    assert np.count_nonzero(vector) == 3
    assert np.isclose(float(np.abs(vector).sum()), 3 / np.sqrt(3), atol=1e-6)
