"""Schema validation: upstream's wording and status for unknown fields, types, rules, metadata."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edgemc.embedded.apiserver.builtin import builtin_type
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.validation import (
    prune_unknown_fields,
    validate_crd,
    validate_object,
)

DEPLOYMENTS = builtin_type("apps", "deployments")
CONFIGMAPS = builtin_type("", "configmaps")
PODS = builtin_type("", "pods")
SERVICES = builtin_type("", "services")


def _deployment(**spec: Any) -> dict[str, Any]:
    base = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {**base, **spec},
    }


def _fields(result: Any) -> dict[str, str]:
    return {c["field"]: c["message"] for c in result.causes}


def _reasons(result: Any) -> dict[str, str]:
    return {c["field"]: c["reason"] for c in result.causes}


# -- built-in kinds ----------------------------------------------------------------------------


def test_valid_objects_pass() -> None:
    result = validate_object(DEPLOYMENTS, _deployment())
    assert result.ok and result.causes == [] and result.warnings == []
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    assert validate_object(CONFIGMAPS, cm).ok


def test_strict_unknown_fields_are_a_bad_request_in_document_order() -> None:
    obj = _deployment()
    obj["spec"]["foo"] = 1
    obj["spec"]["template"]["spec"]["containers"][0]["bar"] = True
    obj["baz"] = "x"
    result = validate_object(DEPLOYMENTS, obj)
    # Document order: "foo" was added to spec after "template".
    assert result.unknown_fields == [
        "spec.template.spec.containers[0].bar",
        "spec.foo",
        "baz",
    ]
    assert _fields(result)["spec.foo"] == 'unknown field "spec.foo"'
    error = result.to_error(DEPLOYMENTS, "web")
    assert error is not None and error.code == 400 and error.reason == "BadRequest"
    assert error.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].bar", unknown field "spec.foo", '
        'unknown field "baz"'
    )


def test_warn_mode_warns_and_ignore_mode_is_silent() -> None:
    obj = _deployment(foo=1)
    warn = validate_object(DEPLOYMENTS, obj, field_validation="Warn")
    assert warn.ok and warn.warnings == ['unknown field "spec.foo"']
    ignore = validate_object(DEPLOYMENTS, obj, field_validation="Ignore")
    assert ignore.ok and ignore.warnings == [] and ignore.unknown_fields == ["spec.foo"]
    with pytest.raises(ValueError):
        validate_object(DEPLOYMENTS, obj, field_validation="strict")


def test_an_update_walks_only_the_fields_it_changes_unless_strict() -> None:
    stored = _deployment(replicas="2")  # stands for a value a later rule would refuse
    status_write = copy.deepcopy(stored)
    status_write["status"] = {"replicas": "two"}
    result = validate_object(DEPLOYMENTS, status_write, field_validation="Warn", replacing=stored)
    assert list(_fields(result)) == ["status.replicas"]  # the unchanged spec is not walked
    retyped = copy.deepcopy(_deployment(replicas=1))  # JSON types count: true is not 1
    retyped["spec"]["replicas"] = True
    equal_in_python = validate_object(
        DEPLOYMENTS, retyped, field_validation="Warn", replacing=_deployment(replicas=1)
    )
    assert "spec.replicas" in _fields(equal_in_python)
    strict = validate_object(DEPLOYMENTS, status_write, replacing=stored)
    assert "spec.replicas" in _fields(strict)
    spec_write = copy.deepcopy(stored)
    spec_write["spec"]["paused"] = "yes"
    changed = validate_object(DEPLOYMENTS, spec_write, field_validation="Warn", replacing=stored)
    assert "spec.replicas" in _fields(changed)


def test_unknown_metadata_field_is_reported() -> None:
    obj = _deployment()
    obj["metadata"]["colour"] = "blue"
    assert validate_object(DEPLOYMENTS, obj).unknown_fields == ["metadata.colour"]


def test_builtin_type_errors_are_go_decode_errors() -> None:
    result = validate_object(DEPLOYMENTS, _deployment(replicas="3"))
    assert _reasons(result)["spec.replicas"] == "FieldValueTypeInvalid"
    error = result.to_error(DEPLOYMENTS, "web")
    assert error is not None and error.code == 400
    assert error.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    labels = _deployment()
    labels["metadata"]["labels"] = {"a": 1}
    assert validate_object(DEPLOYMENTS, labels).decode_error == (
        "json: cannot unmarshal number 1 into Go struct field ObjectMeta.metadata.labels of "
        "type string"
    )
    containers = _deployment()
    containers["spec"]["template"]["spec"]["containers"] = {"name": "x"}
    assert validate_object(DEPLOYMENTS, containers).decode_error.endswith(
        "PodSpec.spec.template.spec.containers of type []v1.Container"
    )


def test_nulls_are_zero_values_for_builtins() -> None:
    obj = _deployment(replicas=None, paused=None)
    obj["metadata"]["creationTimestamp"] = None
    assert validate_object(DEPLOYMENTS, obj).ok


def test_int_or_string_fields() -> None:
    def service(target: Any) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80, "targetPort": target}]},
        }

    assert validate_object(SERVICES, service(8080)).ok
    assert validate_object(SERVICES, service("http")).ok
    assert "of type intstr.IntOrString" in validate_object(SERVICES, service(True)).decode_error


def test_required_fields_are_invalid_causes() -> None:
    obj = _deployment()
    del obj["spec"]["selector"]
    obj["spec"]["template"]["spec"]["containers"][0]["name"] = ""
    result = validate_object(DEPLOYMENTS, obj)
    assert _fields(result) == {
        "spec.selector": "Required value",
        "spec.template.spec.containers[0].name": "Required value",
    }
    error = result.to_error(DEPLOYMENTS, "web")
    assert error is not None and error.code == 422 and error.reason == "Invalid"
    assert error.message.startswith('Deployment.apps "web" is invalid: [spec.selector: Required')


def test_required_is_not_applied_to_builtin_status() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": {"containerStatuses": [{"name": "c", "ready": True}], "conditions": [{}]},
    }
    assert validate_object(PODS, pod).ok


def test_builtin_enums() -> None:
    obj = _deployment()
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = "Sometimes"
    assert _fields(validate_object(DEPLOYMENTS, obj)) == {
        "spec.template.spec.containers[0].imagePullPolicy": 'Unsupported value: "Sometimes": '
        'supported values: "Always", "IfNotPresent", "Never"'
    }
    container["imagePullPolicy"] = ""
    assert validate_object(DEPLOYMENTS, obj).ok


def test_deployment_selector_must_match_template_labels() -> None:
    obj = _deployment(selector={"matchLabels": {"app": "other"}})
    causes = validate_object(DEPLOYMENTS, obj).causes
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.template.metadata.labels",
            "message": 'Invalid value: {"app":"web"}: `selector` does not match template `labels`',
        }
    ]
    empty = _deployment(selector={})
    assert "empty selector is invalid" in validate_object(DEPLOYMENTS, empty).causes[0]["message"]


# -- metadata ----------------------------------------------------------------------------------


def _named(rt: ResourceType, name: str, **meta: Any) -> dict[str, Any]:
    obj = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"name": name, **meta}}
    if rt.kind == "Role":
        obj["rules"] = []
    return obj


def test_name_is_required_unless_generate_name() -> None:
    result = validate_object(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert _fields(result) == {"metadata.name": "Required value: name or generateName is required"}
    generated = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "cm-"}}
    assert validate_object(CONFIGMAPS, generated).ok
    bad_prefix = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "CM-"}}
    assert "metadata.generateName" in _fields(validate_object(CONFIGMAPS, bad_prefix))


@pytest.mark.parametrize(
    ("group", "resource", "name", "valid"),
    [
        ("", "configmaps", "a.b-c", True),
        ("", "configmaps", "Foo_bar", False),
        ("", "namespaces", "team-a", True),
        ("", "namespaces", "a.b", False),
        ("", "services", "a.b", False),
        ("rbac.authorization.k8s.io", "roles", "system:controller:x", True),
        ("rbac.authorization.k8s.io", "roles", "a/b", False),
        ("rbac.authorization.k8s.io", "roles", "..", False),
    ],
)
def test_name_rules_by_kind(group: str, resource: str, name: str, valid: bool) -> None:
    rt = builtin_type(group, resource)
    result = validate_object(rt, _named(rt, name))
    assert result.ok is valid, result.causes
    if not valid:
        assert list(_fields(result)) == ["metadata.name"]
        assert _fields(result)["metadata.name"].startswith(f'Invalid value: "{name}": ')


def test_subdomain_message_is_upstream_wording() -> None:
    message = _fields(validate_object(CONFIGMAPS, _named(CONFIGMAPS, "Foo_bar")))["metadata.name"]
    assert message.startswith(
        'Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character"
    )


def test_labels_and_annotations_are_checked() -> None:
    obj = _named(CONFIGMAPS, "c", labels={"bad key": "v", "ok": "bad value!"})
    causes = validate_object(CONFIGMAPS, obj).causes
    assert {c["field"] for c in causes} == {"metadata.labels"}
    assert len(causes) == 2
    assert causes[0]["message"].startswith('Invalid value: "bad key": name part must consist')
    big = _named(CONFIGMAPS, "c", annotations={"a": "x" * (256 * 1024)})
    [cause] = validate_object(CONFIGMAPS, big).causes
    assert cause["field"] == "metadata.annotations"
    assert cause["reason"] == "FieldValueTooLong"


def test_only_one_controller_owner() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "1"}
    obj = _named(
        CONFIGMAPS,
        "c",
        ownerReferences=[{**owner, "controller": True}, {**owner, "uid": "2", "controller": True}],
    )
    assert (
        "Only one reference"
        in _fields(validate_object(CONFIGMAPS, obj))["metadata.ownerReferences"]
    )
    obj["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet"}]
    assert set(_fields(validate_object(CONFIGMAPS, obj))) == {
        "metadata.ownerReferences[0].apiVersion",
        "metadata.ownerReferences[0].name",
        "metadata.ownerReferences[0].uid",
    }


# -- custom resources (structural schemas) -------------------------------------------------------

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 10}},
        },
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "colour": {"type": "string", "enum": ["red", "blue"]},
                "code": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 4},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": 3,
                    "x-kubernetes-list-type": "set",
                },
                "note": {"type": "string", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "opaque": {"type": "object"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
                "choice": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}  # fmt: skip

WIDGETS = ResourceType(
    group="example.com",
    version="v1",
    resource="widgets",
    kind="Widget",
    namespaced=True,
    singular="widget",
    list_kind="WidgetList",
    schema=WIDGET_SCHEMA,
    source="crd",
)


def _widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3, **spec},
    }


def test_custom_resource_valid() -> None:
    obj = _widget(
        colour="red",
        code="abc",
        port="http",
        tags=["a", "b"],
        note=None,
        free={"anything": {"goes": [1]}},
        labels={"a": "b"},
        template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}},
        ports=[{"name": "a"}, {"name": "b"}],
        choice={"a": "x"},
    )
    result = validate_object(WIDGETS, obj)
    assert result.ok, result.causes


def test_custom_resource_type_errors_are_invalid_not_decode_errors() -> None:
    result = validate_object(WIDGETS, _widget(size="3"))
    assert result.decode_error == ""
    assert result.causes == [
        {
            "reason": "FieldValueTypeInvalid",
            "field": "spec.size",
            "message": 'Invalid value: "string": spec.size in body must be of type integer: '
            '"string"',
        }
    ]
    error = result.to_error(WIDGETS, "w1")
    assert error is not None and error.code == 422
    assert error.message == (
        'Widget.example.com "w1" is invalid: spec.size: Invalid value: "string": spec.size in '
        'body must be of type integer: "string"'
    )


def test_custom_resource_value_rules() -> None:
    obj = _widget(
        size=11,
        colour="green",
        code="ABCDE",
        tags=["a", "a", "b", "c"],
        port=True,
        note=None,
        labels={"a": 1},
    )
    fields = _fields(validate_object(WIDGETS, obj))
    assert (
        fields["spec.size"]
        == "Invalid value: 11: spec.size in body should be less than or equal to 10"
    )
    assert fields["spec.colour"] == 'Unsupported value: "green": supported values: "blue", "red"'
    assert fields["spec.code"] == "Too long: may not be more than 4 bytes"
    assert fields["spec.tags"] == "Too many: 4: must have at most 3 items"
    assert fields["spec.tags[1]"] == 'Duplicate value: "a"'
    assert fields["spec.port"].startswith(
        'Invalid value: "boolean": spec.port in body must be of type integer,string'
    )
    assert fields["spec.labels[a]"].startswith('Invalid value: "integer"')
    low = _fields(validate_object(WIDGETS, _widget(size=0, code="AB", tags=[])))
    assert (
        low["spec.size"]
        == "Invalid value: 0: spec.size in body should be greater than or equal to 1"
    )
    assert low["spec.code"] == "Invalid value: \"AB\": spec.code in body should match '^[a-z]+$'"
    assert (
        "should be at least 2 chars long"
        in _fields(validate_object(WIDGETS, _widget(code="a")))["spec.code"]
    )
    assert low["spec.tags"] == "Invalid value: 0: spec.tags in body should have at least 1 items"


def test_custom_resource_required_nullable_and_combinators() -> None:
    obj = _widget(code=None, ports=[{"name": "a"}, {"name": "a"}], choice={"a": "x", "b": "y"})
    del obj["spec"]["size"]
    fields = _fields(validate_object(WIDGETS, obj))
    assert fields["spec.size"] == "Required value"
    assert fields["spec.code"].startswith(
        'Invalid value: "null": spec.code in body must be of type string'
    )
    assert fields["spec.ports[1]"] == 'Duplicate value: {"name":"a"}'
    assert fields["spec.choice"].endswith("must validate one and only one schema (oneOf)")


def test_custom_resource_unknown_fields_follow_pruning_rules() -> None:
    obj = _widget(extra=1, opaque={"x": 1}, free={"y": 2})
    obj["metadata"]["foo"] = "bar"
    obj["status"] = {"ready": True, "phase": "x"}
    result = validate_object(WIDGETS, obj, field_validation="Warn")
    assert result.unknown_fields == ["metadata.foo", "spec.extra", "spec.opaque.x", "status.phase"]
    assert result.ok
    error = validate_object(WIDGETS, obj).to_error(WIDGETS, "w1")
    assert error is not None and error.code == 400
    assert error.message.startswith(
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "metadata.foo", unknown field "spec.extra"'
    )


def test_custom_resource_metadata_is_object_meta_plus_crd_constraints() -> None:
    obj = _widget()
    obj["metadata"]["name"] = "much-too-long-name"
    obj["metadata"]["labels"] = {"a": 1}
    result = validate_object(WIDGETS, obj)
    assert _fields(result)["metadata.name"] == "Too long: may not be more than 10 bytes"
    assert _reasons(result)["metadata.labels[a]"] == "FieldValueTypeInvalid"
    assert result.decode_error == ""


def test_embedded_resource_needs_api_version_and_kind() -> None:
    fields = _fields(
        validate_object(WIDGETS, _widget(template={"metadata": {"name": "x", "bad": 1}}))
    )
    assert fields["spec.template.apiVersion"] == "Required value: must not be empty"
    assert fields["spec.template.kind"] == "Required value: must not be empty"
    assert fields["spec.template.metadata.bad"] == 'unknown field "spec.template.metadata.bad"'


def test_prune_unknown_fields_removes_exactly_the_unknown_ones() -> None:
    obj = _widget(extra=1, opaque={"x": 1}, free={"y": 2})
    obj["metadata"]["foo"] = "bar"
    kept = copy.deepcopy(obj)
    assert prune_unknown_fields(WIDGETS, obj) == ["metadata.foo", "spec.extra", "spec.opaque.x"]
    for key in ("extra",):
        del kept["spec"][key]
    kept["spec"]["opaque"] = {}
    del kept["metadata"]["foo"]
    assert obj == kept
    deployment = _deployment(foo=1)
    assert prune_unknown_fields(DEPLOYMENTS, deployment) == ["spec.foo"]
    assert "foo" not in deployment["spec"]


def test_type_without_schema_only_checks_metadata() -> None:
    bare = ResourceType("x.io", "v1", "things", "Thing", True)
    assert validate_object(bare, {"metadata": {"name": "a"}, "anything": 1}).ok


# -- CustomResourceDefinitions -----------------------------------------------------------------


def _crd(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
            }
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {**base, **spec},
    }


def _crd_fields(crd: dict[str, Any]) -> dict[str, str]:
    return {c["field"]: c["message"] for c in validate_crd(crd)}


def test_valid_crd() -> None:
    assert validate_crd(_crd()) == []
    crds = builtin_type("apiextensions.k8s.io", "customresourcedefinitions")
    assert validate_object(crds, _crd()).ok


def test_crd_name_group_and_scope() -> None:
    crd = _crd(group="example", scope="Galaxy")
    fields = _crd_fields(crd)
    assert (
        fields["spec.group"] == 'Invalid value: "example": should be a domain with at least one dot'
    )
    assert (
        fields["spec.scope"]
        == 'Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"'
    )
    assert (
        fields["metadata.name"]
        == 'Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group'
    )


def test_crd_names() -> None:
    crd = _crd(names={"plural": "Widgets", "kind": "Widget", "listKind": "Widget"})
    fields = _crd_fields(crd)
    assert fields["spec.names.plural"].startswith(
        'Invalid value: "Widgets": a lowercase RFC 1123 label'
    )
    assert (
        fields["spec.names.listKind"]
        == 'Invalid value: "Widget": kind and listKind may not be the same'
    )
    missing = _crd_fields(_crd(names={"plural": "widgets"}))
    assert missing["spec.names.kind"] == "Required value"
    assert missing["spec.names.listKind"] == "Required value"


def test_crd_versions_need_exactly_one_storage_version() -> None:
    crd = _crd()
    second = copy.deepcopy(crd["spec"]["versions"][0])
    crd["spec"]["versions"].append(second)
    fields = _crd_fields(crd)
    assert (
        fields["spec.versions"]
        == "Invalid value: 2: must have exactly one version marked as storage version"
    )
    assert fields["spec.versions[1].name"] == 'Duplicate value: "v1"'
    assert "spec.versions" in _crd_fields(_crd(versions=[]))


def test_crd_schemas_must_be_structural() -> None:
    crd = _crd()
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["untyped"] = {"description": "no type"}
    schema["properties"]["spec"]["properties"]["list"] = {"type": "array"}
    schema["properties"]["spec"]["properties"]["ref"] = {
        "$ref": "#/definitions/x",
        "type": "object",
    }
    schema["properties"]["metadata"]["properties"]["labels"] = {"type": "object"}
    fields = _crd_fields(crd)
    root = "spec.versions[0].schema.openAPIV3Schema"
    assert fields[f"{root}.properties[spec].properties[untyped].type"] == (
        "Required value: must not be empty for specified object fields"
    )
    assert (
        fields[f"{root}.properties[spec].properties[list].items"]
        == "Required value: must be specified"
    )
    assert f"{root}.properties[spec].properties[ref].$ref" in fields
    assert fields[f"{root}.properties[metadata]"].startswith(
        "Forbidden: must not specify anything other than name and generateName"
    )
    no_schema = _crd()
    del no_schema["spec"]["versions"][0]["schema"]
    assert _crd_fields(no_schema)[f"{root}"] == "Required value: schemas are required"
    string_root = _crd()
    string_root["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {"type": "string"}
    assert (
        _crd_fields(string_root)[f"{root}.type"]
        == 'Invalid value: "string": must be object at the root'
    )


def test_crd_printer_columns() -> None:
    crd = _crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "X", "type": "float", "jsonPath": "spec.x", "priority": -1},
        {"type": "string"},
    ]
    fields = _crd_fields(crd)
    column = "spec.versions[0].additionalPrinterColumns"
    assert fields[f"{column}[0].type"].startswith('Unsupported value: "float"')
    assert f"{column}[0].priority" in fields
    assert f"{column}[0].jsonPath" in fields
    assert fields[f"{column}[1].name"] == "Required value"
    assert fields[f"{column}[1].jsonPath"] == "Required value"


def test_secret_data_must_be_base64() -> None:
    secrets = builtin_type("", "secrets")
    good = _named(secrets, "s", labels={})
    good["data"] = {"a": "aGVsbG8="}
    assert validate_object(secrets, good).ok
    bad = _named(secrets, "s")
    bad["data"] = {"a": "hello world"}
    result = validate_object(secrets, bad)
    assert _reasons(result) == {"data[a]": "FieldValueInvalid"}
    error = result.to_error(secrets, "s")
    assert error is not None and error.code == 400
    assert error.message == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 5'
    )
