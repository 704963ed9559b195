"""feeds: publish a folder of news records as RSS 2.0, Atom 1.0 and JSON Feed 1.1.

The small public API: ``build`` a folder of records into an output tree, or
``read_records`` / ``parse_record`` to check records without writing.
"""

from .model import Feed, Format, Problem, Record, Site
from .publish import build
from .reading import read_records
from .records import parse_record
from .report import Report
from .version import __version__

__all__ = [
    "Feed",
    "Format",
    "Problem",
    "Record",
    "Report",
    "Site",
    "__version__",
    "build",
    "parse_record",
    "read_records",
]
