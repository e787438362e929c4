"""An OAIS digital preservation repository.

The ``preservation`` package is the core: configuration, errors, the findings model, hashing,
safe XML, signing, storage backends, the catalog and audits. ``sip``, ``aip`` and ``dip`` build on
it; only ``preservation.cli`` imports everything (and click).
"""

__version__ = "0.1.0"
SOFTWARE_NAME = "preservation"
