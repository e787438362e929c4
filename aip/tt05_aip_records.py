"""The descriptive records of a TT05 AIP (AIP_hoso / AIP_tailieu): field sets and conversion.

TT05 (../shared/spec/TT05.md, "Package-level record" and "Document record") gives the AIP its
own field sets, derived from the SIP's:

- ``metadata/descriptive/EAD.xml`` of an AIP_hoso: the 18 dossier fields with ``fileCode``
  replaced by ``arcFileCode``; of an AIP_tailieu: 4 fields (arcFileCode, title, source,
  description — no totalDoc);
- ``EAD_DOC_<id>.xml``: the SIP's 21 fields minus docId, maintenance, riskRecovery and
  riskRecoveryStatus, plus ``arcFileCode`` (the parent dossier's) and ``docOrdinal`` (1-based
  order of the document in the AIP): 19 fields.

The archival file code (:func:`arc_file_code`) is ``<archive code>.<SIP fileCode>``, or the
SIP's fileCode unchanged when the repository has no archive code configured. Values are copied
exactly as validated (dates stay DD/MM/YYYY as the SIP wrote them). The records are written
with :func:`sip.tt05_xml.simpledc`, the SIP writer's own record builder, and validate against
the AIP schemas in ``preservation/schemas/aip/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from preservation.errors import PreservationError
from preservation.xmlsafe import xml_bytes
from sip.tt05_model import (
    BATCH_FIELDS,
    DOCUMENT_FIELDS,
    DOSSIER_FIELDS,
    FieldSpec,
    FieldType,
    PackageKind,
)
from sip.tt05_xml import simpledc

#: TT05 "String 100" for arcFileCode
ARC_FILE_CODE_MAX = 100
#: the four ead*.xsd of an AIP: name in the AIP's schemas/ → packaged preservation/schemas/aip/
AIP_RECORD_SCHEMAS = ("ead.xsd", "ead_doc.xsd", "ead_pic.xsd", "ead_media.xsd")


class ArcFileCodeError(PreservationError):
    """The archival file code would break TT05's length limit (the AIP cannot be written)."""

    code = "AIP-ARC-FILE-CODE"


def _arc_spec(required: bool = True) -> FieldSpec:
    return FieldSpec("arcFileCode", "Mã hồ sơ lưu trữ", FieldType.STRING, required,
                     ARC_FILE_CODE_MAX)


_ORDINAL = FieldSpec("docOrdinal", "Số thứ tự văn bản trong hồ sơ", FieldType.NUMBER, True)
_DROPPED_FROM_DOCUMENT = frozenset({"docId", "maintenance", "riskRecovery", "riskRecoveryStatus"})

#: AIP_hoso EAD.xml: the 18 dossier fields, fileCode → arcFileCode (same place)
AIP_DOSSIER_FIELDS: tuple[FieldSpec, ...] = tuple(
    _arc_spec() if spec.name == "fileCode" else spec for spec in DOSSIER_FIELDS)
#: AIP_tailieu EAD.xml: arcFileCode, title, source, description
AIP_BATCH_FIELDS: tuple[FieldSpec, ...] = (
    _arc_spec(), *(spec for spec in BATCH_FIELDS
                   if spec.name in ("title", "source", "description")))
#: AIP EAD_DOC: arcFileCode, docOrdinal, then the SIP's document fields minus the dropped four
AIP_DOCUMENT_FIELDS: tuple[FieldSpec, ...] = (
    _arc_spec(), _ORDINAL,
    *(spec for spec in DOCUMENT_FIELDS if spec.name not in _DROPPED_FROM_DOCUMENT))


def package_fields(kind: PackageKind) -> tuple[FieldSpec, ...]:
    """The AIP's EAD.xml field set for a dossier or a loose-documents batch."""
    return AIP_DOSSIER_FIELDS if kind is PackageKind.HOSO else AIP_BATCH_FIELDS


def arc_file_code(archive_code: str, file_code: str) -> str:
    """``<archive code>.<fileCode>``; the fileCode alone when no archive code is configured.

    A fileCode that already starts with ``<archive code>.`` (a package this archive exported and
    receives back) is not prefixed twice. Raises :class:`ArcFileCodeError` for an empty fileCode
    and beyond 100 characters.
    """
    archive_code, file_code = archive_code.strip(), file_code.strip()
    if not file_code:  # never "<archive code>." alone
        raise ArcFileCodeError("the SIP has no fileCode to derive the archival file code from")
    if not archive_code or file_code.startswith(archive_code + "."):
        code = file_code
    else:
        code = f"{archive_code}.{file_code}"
    if len(code) > ARC_FILE_CODE_MAX:
        raise ArcFileCodeError(
            f"archival file code {code!r} has {len(code)} characters; TT05 allows "
            f"{ARC_FILE_CODE_MAX} (archive code {archive_code!r} + '.' + fileCode)")
    return code


def package_values(kind: PackageKind, sip_fields: Mapping[str, str], arc_code: str,
                   total_documents: int) -> dict[str, str]:
    """The AIP's EAD.xml values from the SIP's: arcFileCode in, fileCode out; for a dossier
    ``totalDoc`` is the number of documents the AIP holds (a supplement adds to the previous)."""
    allowed = {spec.name for spec in package_fields(kind)}
    values = {name: value for name, value in sip_fields.items()
              if name in allowed and name != "arcFileCode"}
    values["arcFileCode"] = arc_code
    if kind is PackageKind.HOSO:
        values["totalDoc"] = str(total_documents)
    return values


def document_values(sip_fields: Mapping[str, str], arc_code: str, ordinal: int) -> dict[str, str]:
    """An AIP EAD_DOC's values: the SIP document's minus the dropped four, plus the two added."""
    allowed = {spec.name for spec in AIP_DOCUMENT_FIELDS}
    values = {name: value for name, value in sip_fields.items()
              if name in allowed and name not in ("arcFileCode", "docOrdinal")}
    return {"arcFileCode": arc_code, "docOrdinal": str(ordinal), **values}


def package_record(kind: PackageKind, values: Mapping[str, str]) -> bytes:
    """EAD.xml bytes (``<simpledc>``, schema location ``../../schemas/ead.xsd``)."""
    return xml_bytes(simpledc(package_fields(kind), _known(package_fields(kind), values),
                              "../../schemas/ead.xsd"))


def document_record(values: Mapping[str, str]) -> bytes:
    """EAD_DOC bytes (schema location relative to representations/rep1/metadata/descriptive)."""
    return xml_bytes(simpledc(AIP_DOCUMENT_FIELDS, _known(AIP_DOCUMENT_FIELDS, values),
                              "../../../../schemas/ead_doc.xsd"))


def _known(specs: tuple[FieldSpec, ...], values: Mapping[str, str]) -> dict[str, str]:
    """Only the fields of the set: the AIP schemas allow no others."""
    names = {spec.name for spec in specs}
    return {name: value for name, value in values.items() if name in names}


def schema_bytes(name: str) -> bytes:
    """One of the AIP's four record schemas (:data:`AIP_RECORD_SCHEMAS`), as packaged."""
    if name not in AIP_RECORD_SCHEMAS:
        raise KeyError(name)
    return (resources.files("preservation") / "schemas" / "aip" / name).read_bytes()


__all__ = [
    "AIP_BATCH_FIELDS", "AIP_DOCUMENT_FIELDS", "AIP_DOSSIER_FIELDS", "AIP_RECORD_SCHEMAS",
    "ArcFileCodeError", "arc_file_code", "document_record", "document_values", "package_fields",
    "package_record", "package_values", "schema_bytes",
]
