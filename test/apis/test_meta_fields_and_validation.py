"""Field selectors and the name validators of edgemc.apis.meta."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgemc.apis.meta import (
    FieldRequirement,
    FieldSelector,
    Operator,
    SelectorError,
    escape_field_value,
    parse_field_selector,
    validate_annotations,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_label_value,
    validate_labels,
    validate_path_segment_name,
    validate_qualified_name,
)

# ---- field selectors ----------------------------------------------------------------------


def test_field_selector_operators_and_missing_fields() -> None:
    selector = parse_field_selector("metadata.name=foo,status.phase!=Running,spec.nodeName==")
    assert [(r.field, r.operator, r.value) for r in selector.requirements] == [
        ("metadata.name", Operator.EQUALS, "foo"),
        ("spec.nodeName", Operator.EQUALS, ""),
        ("status.phase", Operator.NOT_EQUALS, "Running"),
    ]
    assert selector.fields == {"metadata.name", "status.phase", "spec.nodeName"}
    assert selector.matches({"metadata.name": "foo", "status.phase": "Pending"})
    assert selector.matches({"metadata.name": "foo"})  # absent field reads as ""
    assert not selector.matches({"metadata.name": "foo", "spec.nodeName": "n1"})
    assert not selector.matches({"metadata.name": "foo", "status.phase": "Running"})
    assert selector.requires_exact_match("metadata.name") == "foo"
    assert selector.requires_exact_match("status.phase") is None
    assert str(selector) == "metadata.name=foo,spec.nodeName=,status.phase!=Running"


def test_empty_field_selector_matches_everything() -> None:
    for text in ("", ",", ",,"):
        selector = parse_field_selector(text)
        assert selector.is_empty() and selector.matches({"a": "b"})
    assert FieldSelector.empty().is_empty()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b,c", "can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: ="),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_invalid_field_selectors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as excinfo:
        parse_field_selector(text)
    assert message in str(excinfo.value)


def test_escaped_values() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert selector.requirements == (
        FieldRequirement("metadata.name", Operator.EQUALS, "a,b=c\\d"),
    )
    assert str(selector) == r"metadata.name=a\,b\=c\\d"


fields = st.text(alphabet="abcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=20)
field_values = st.text(alphabet="abc,=\\ !-", max_size=12)


@given(
    st.lists(st.tuples(fields, st.sampled_from(["=", "==", "!="]), field_values), max_size=4),
    st.dictionaries(fields, field_values, max_size=4),
)
def test_field_selector_round_trip_and_matching(terms, labels: dict[str, str]) -> None:
    text = ",".join(f"{f}{op}{escape_field_value(v)}" for f, op, v in terms)
    selector = parse_field_selector(text)
    assert parse_field_selector(str(selector)) == selector
    expected = all((labels.get(f, "") == v) == (op != "!=") for f, op, v in terms)
    assert selector.matches(labels) == expected


# ---- validation ---------------------------------------------------------------------------

QNAME_REGEX_TAIL = (
    "(e.g. 'MyName',  or 'my.name',  or '123-abc', "
    "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    "name",
    [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "1234",
        "simple/simple",
        "now-with-dashes/simple",
        "now-with-dashes/now-with-dashes",
        "now.with.dots/simple",
        "now-with.dashes-and.dots/simple",
        "1-num.2-num/3-num",
        "1234/5678",
        "1.2.3.4/5678",
        "Uppercase_Is_OK_123",
        "example.com/Uppercase_Is_OK_123",
        "requests.storage-foo",
        "a" * 63,
        "a" * 253 + "/" + "b" * 63,
    ],
)
def test_valid_qualified_names(name: str) -> None:
    assert validate_qualified_name(name) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name part must be non-empty"),
        ("/simple", "prefix part must be non-empty"),
        ("simple/", "name part must be non-empty"),
        ("nospecialchars%^=@", "name part must consist of alphanumeric characters"),
        ("-bad", "name part must consist of alphanumeric characters"),
        ("bad-", "name part must consist of alphanumeric characters"),
        ("Tama-nui-te-rā.is.Māori.sun", "name part must consist"),
        ("a" * 64, "name part must be no more than 63 characters"),
        ("a" * 254 + "/b", "prefix part must be no more than 253 characters"),
        ("Upper.com/name", "prefix part a lowercase RFC 1123 subdomain must consist"),
        ("a/b/c", "a qualified name must consist of alphanumeric characters"),
    ],
)
def test_invalid_qualified_names(name: str, message: str) -> None:
    errors = validate_qualified_name(name)
    assert errors and message in errors[0]


def test_qualified_name_message_matches_upstream_shape() -> None:
    assert validate_qualified_name("-x") == [
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character " + QNAME_REGEX_TAIL
    ]


def test_label_values() -> None:
    for good in ("", "simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234",
                 "a" * 63, "Upper_case.1"):  # fmt: skip
        assert validate_label_value(good) == [], good
    assert validate_label_value("a" * 64) == ["must be no more than 63 characters"]
    for bad in ("nospecialchars%^=@", "-starts", "ends-", "white space", "a/b"):
        (message,) = validate_label_value(bad)
        assert message.startswith("a valid label must be an empty string or consist of")
        assert "(e.g. 'MyValue',  or 'my_value',  or '12345'" in message


def test_dns1123() -> None:
    assert validate_dns1123_label("my-name") == []
    assert validate_dns1123_label("a" * 63) == []
    assert validate_dns1123_label("a" * 64)[0] == "must be no more than 63 characters"
    assert validate_dns1123_label("My-Name")[0].startswith(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
    )
    assert validate_dns1123_label("a.b") != []
    assert validate_dns1123_subdomain("example.com") == []
    assert validate_dns1123_subdomain(".".join(["a" * 63] * 4)[:253]) == []
    assert validate_dns1123_subdomain("a" * 254)[0] == "must be no more than 253 characters"
    for bad in ("", "-a", "a-", "a..b", "A", "a_b"):
        assert validate_dns1123_subdomain(bad), bad
    assert "(e.g. 'example.com', regex used for validation is" in validate_dns1123_subdomain("A")[0]


def test_path_segment_names() -> None:
    assert validate_path_segment_name("ok:name") == []
    assert validate_path_segment_name(".") == ["may not be '.'"]
    assert validate_path_segment_name("..") == ["may not be '..'"]
    assert validate_path_segment_name("a/b%c") == ["may not contain '/'", "may not contain '%'"]
    assert validate_path_segment_name("..", prefix=True) == []


def test_validate_labels_and_annotations() -> None:
    assert validate_labels({"app": "web", "example.com/tier": ""}) == []
    errors = validate_labels({"-app": "web", "ok": "bad value"})
    assert errors[0].startswith('metadata.labels: Invalid value: "-app": name part must consist')
    assert errors[1].startswith('metadata.labels: Invalid value: "bad value": a valid label')
    assert validate_labels({"x/y/z": "v"}, path="spec.selector")[0].startswith("spec.selector:")

    assert validate_annotations({"kubectl.kubernetes.io/last-applied-configuration": "{}"}) == []
    assert validate_annotations({"Example.COM/Key": "any value at all"}) == []  # case-insensitive
    assert validate_annotations({"bad key": "v"})[0].startswith(
        'metadata.annotations: Invalid value: "bad key"'
    )
    big = {"a": "x" * (256 * 1024 - 1)}
    assert validate_annotations(big) == []
    big["b"] = "x"
    assert validate_annotations(big) == [
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    ]
