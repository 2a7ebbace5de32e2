"""Customization: parameter expansion and JSONPath replacements (no server)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgemc.apis.edge import Replacement
from edgemc.controllers.placement.customize import (
    CustomizationError,
    apply_replacements,
    customize,
    customizer_reference,
    expand_parameters,
    expand_string,
    location_parameters,
    parse_path,
)

LOCATION = {
    "metadata": {
        "name": "guilder",
        "labels": {"env": "prod", "loc-name": "guilder"},
        "annotations": {"env": "annotation-loses", "region": "north"},
    }
}


def test_expand_string() -> None:
    params = location_parameters(LOCATION)
    assert expand_string("env is %(env)", params) == "env is prod"
    assert expand_string("%(region)/%(loc-name)", params) == "north/guilder"
    assert expand_string("%(unknown) stays", params) == "%(unknown) stays"
    assert expand_string("100%% of %(env)", params) == "100% of prod"
    assert expand_string("%%(env)", params) == "%(env)"
    assert expand_string("50% off", params) == "50% off"


def test_expand_parameters_only_touches_string_leaves() -> None:
    obj = {"%(env)": ["%(env)", 3, {"k": "%(loc-name)"}], "n": None}
    assert expand_parameters(obj, {"env": "e", "loc-name": "l"}) == {
        "%(env)": ["e", 3, {"k": "l"}],
        "n": None,
    }


def test_parse_path() -> None:
    assert parse_path("$.spec.template.spec.containers.0.env.0.value") == [
        "spec",
        "template",
        "spec",
        "containers",
        0,
        "env",
        0,
        "value",
    ]
    assert parse_path("$['data'][\"a.b\"][2].*") == ["data", "a.b", 2, "*"]
    with pytest.raises(CustomizationError):
        parse_path("spec.x")
    with pytest.raises(CustomizationError):
        parse_path("$.a[?(@.x)]")


def test_replacements_create_missing_members_and_index_lists() -> None:
    obj = {"spec": {"containers": [{"name": "c", "env": [{"name": "E", "value": "x"}]}]}}
    out = apply_replacements(
        obj,
        [
            Replacement(path="$.spec.containers.0.env.0.value", value='"env is %(env)"'),
            Replacement(path="$.metadata.labels.tier", value='"edge"'),
            Replacement(path="$.spec.containers.*.image", value='"httpd:%(env)"'),
        ],
        {"env": "prod"},
    )
    assert out["spec"]["containers"][0]["env"][0]["value"] == "env is prod"
    assert out["spec"]["containers"][0]["image"] == "httpd:prod"
    assert out["metadata"] == {"labels": {"tier": "edge"}}
    assert obj["spec"]["containers"][0]["env"][0]["value"] == "x"  # input untouched
    with pytest.raises(CustomizationError):
        apply_replacements(obj, [Replacement(path="$.spec.containers.5.name", value='"n"')])
    with pytest.raises(CustomizationError):
        apply_replacements(obj, [Replacement(path="$.a", value="not json")])


def test_customize_end_to_end() -> None:
    deployment = {
        "metadata": {
            "name": "d",
            "namespace": "ns",
            "annotations": {"edge.kcp.io/customizer": "cust"},
        },
        "spec": {"replicas": 1},
    }
    customizer = {
        "metadata": {"annotations": {"edge.kcp.io/expand-parameters": "true"}},
        "replacements": [{"path": "$.spec.note", "value": '"at %(loc-name)"'}],
    }
    assert customizer_reference(deployment) == ("ns", "cust")
    out = customize(deployment, customizer, LOCATION)
    assert out["spec"] == {"replicas": 1, "note": "at guilder"}
    with pytest.raises(CustomizationError):
        customize(deployment, customizer, None)
    cm = {
        "metadata": {"name": "c", "annotations": {"edge.kcp.io/expand-parameters": "true"}},
        "data": {"x": "%(env)"},
    }
    assert customize(cm, None, LOCATION)["data"] == {"x": "prod"}
    assert customizer_reference({"metadata": {"annotations": {"edge.kcp.io/customizer": "a/b"}}})
    assert customize({"metadata": {}}, None, None) == {"metadata": {}}


@given(st.text(alphabet="ab%()", max_size=20))
def test_text_without_parameters_only_loses_doubled_percents(text: str) -> None:
    out = expand_string(text, {})
    assert out.count("%") <= text.count("%")
    assert expand_string(text.replace("%", "%%"), {"a": "X"}) == text
