"""Admission plugins every server runs: defaulting and schema validation of written objects."""

from __future__ import annotations

from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.defaults import apply_defaults
from edgemc.embedded.apiserver.objects import Operation
from edgemc.embedded.apiserver.validation import prune_unknown_fields, validate_object


def default_admission(op: Operation) -> None:
    if op.obj is not None and op.verb in ("create", "update"):
        apply_defaults(op.rt, op.obj)


def schema_admission(op: Operation) -> None:
    if op.obj is None or op.verb not in ("create", "update"):
        return
    result = validate_object(op.rt, op.obj, field_validation=op.field_validation, replacing=op.old)
    op.warnings.extend(result.warnings)
    error = result.to_error(op.rt, op.name)
    if error is not None:
        raise error
    if op.field_validation != "Strict" and result.unknown_fields:
        # Like upstream, unknown fields are dropped (after a warning in Warn mode). The walk
        # that validated found them; without any, a second walk would find none.
        prune_unknown_fields(op.rt, op.obj)


IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


def namespace_lifecycle(op: Operation) -> None:
    """The system namespaces cannot be deleted, as upstream's NamespaceLifecycle plugin says."""
    if op.verb == "delete" and (op.rt.group, op.rt.resource) == ("", "namespaces"):
        if op.name in IMMORTAL_NAMESPACES:
            raise errors.forbidden(
                f'namespaces "{op.name}" is forbidden: this namespace may not be deleted',
                ("", "namespaces"),
                op.name,
            )
