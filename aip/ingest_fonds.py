"""Which fonds an ingested AIP belongs to (every AIP belongs to exactly one).

The code comes from, in this order: ``--fonds CODE``; the previous version's fonds for a
supplement or replacement; the TT05 SIP's IDENTIFICATIONCODE (``submission.identifiers["fonds"]``);
the configuration's ``default_fonds``. It must be registered (``preservation fonds add``):
otherwise the ingest is refused (``INGEST-FONDS-UNKNOWN`` / ``INGEST-FONDS-REQUIRED``) before
anything is written.
"""

from __future__ import annotations

from aip.versions import refusal
from preservation.catalog import Catalog
from preservation.config import Config
from sip.submission import Submission


def chosen_fonds(config: Config, *, explicit: str | None, previous: str = "",
                 submission: Submission | None = None) -> str:
    """The fonds code by the rules above ("" when nothing names one)."""
    if explicit and explicit.strip():
        return explicit.strip()
    if previous:
        return previous
    if submission is not None and submission.identifiers.get("fonds", "").strip():
        return submission.identifiers["fonds"].strip()
    return config.default_fonds.strip()


def registered_fonds(catalog: Catalog, code: str) -> str:
    """``code`` if it is a registered fonds; else the ingest is refused."""
    if not code:
        raise refusal("INGEST-FONDS-REQUIRED",
                      "the AIP must belong to a fonds: give --fonds CODE or set a default fonds")
    if catalog.fonds(code) is None:
        raise refusal("INGEST-FONDS-UNKNOWN",
                      f"the fonds {code} is not registered (preservation fonds add {code} …)",
                      fonds=code)
    return code
