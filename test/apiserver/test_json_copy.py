"""json_copy: a deep copy of decoded documents that shares no container with its original."""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgemc.embedded.apiserver.objects import json_copy

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates()
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=40,
)


def containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(c for v in value.values() for c in containers(v))]
    if isinstance(value, list):
        return [value, *(c for v in value for c in containers(v))]
    return []


@given(documents)
def test_copy_is_equal_and_shares_no_container(doc: Any) -> None:
    copied = json_copy(doc)
    assert repr(copied) == repr(doc)  # repr: NaN is not equal to itself
    assert not {id(c) for c in containers(copied)} & {id(c) for c in containers(doc)}


def test_dates_from_yaml_stay_dates() -> None:
    day = datetime.date(2026, 11, 29)
    assert json_copy({"spec": [{"when": day}]})["spec"][0]["when"] is day
