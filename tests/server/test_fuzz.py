"""Schemathesis against the OpenAPI document: schema-driven requests, valid and invalid, find no
5xx and no answer that breaks the documented status codes, content types, headers or schemas.

Left out: `positive_data_acceptance`. A request the schema allows can still name an unknown
model, a language pair the model does not sign, or text with no signable word; those are 400 by
design (the schema cannot know which texts a model can sign)."""

import os

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip(
    "schemathesis", reason="Schemathesis is not installed (pip install 'text2sign[serve-test]')"
)
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS

from text2sign.server import ServerSettings
from text2sign.server.app import create_app

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TEXT2SIGN_FUZZ_EXAMPLES", "300"))  # per operation
CHECKED = [c for c in CHECKS.get_all() if c.__name__ != "positive_data_acceptance"]
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ServerSettings(warm_up=False)))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
def test_no_request_the_schema_describes_breaks_the_server(case):
    case.call_and_validate(checks=CHECKED)


def test_any_text_in_any_language_pair_is_signed_or_refused_with_a_4xx():
    """Schema-driven strings rarely name a real language pair; this reaches the models with
    arbitrary Unicode text in pairs the default model signs."""
    from fastapi.testclient import TestClient
    from hypothesis import given
    from hypothesis import strategies as st

    client = TestClient(create_app(ServerSettings(warm_up=False, cache_size=0)))
    pairs = [(p["spoken"], p["signed"]) for p in client.get("/api/v1/languages").json()["pairs"]]
    statuses = []

    @given(
        text=st.text(min_size=1, max_size=200),
        pair=st.sampled_from(pairs),
        fmt=st.sampled_from(["pose", "json"]),
        strict=st.booleans(),
    )
    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
    )
    def sign(text, pair, fmt, strict):
        answer = client.post(
            "/api/v1/generate",
            json={"text": text, "spoken": pair[0], "signed": pair[1], "format": fmt, "strict": strict},
        )
        assert answer.status_code < 500, answer.text
        assert answer.status_code == 200 or "error" in answer.json()
        statuses.append(answer.status_code)

    sign()
    print({status: statuses.count(status) for status in sorted(set(statuses))})
    assert 200 in statuses
