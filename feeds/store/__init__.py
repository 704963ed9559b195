"""What a build keeps between runs: one SQLite database, and the queries selection asks of it.

``database`` opens and checks it; ``files`` keeps the rows of the record files
and their listings; ``visibility`` keeps the visible set and its groups' rows
up to date; ``groups`` answers selection; ``kept`` holds packed records and
the outputs of the last build. Rows that feed output carry a checksum; a
mismatch, a damaged file or another release's database means starting again
from the records, never publishing what was read.
"""

from .database import Store, discard
from .rows import Counts, Delta, Entry, Group, Parsed, StoreDamaged, StoredFile
from .schema import FILE, url_key

__all__ = [
    "FILE",
    "Counts",
    "Delta",
    "Entry",
    "Group",
    "Parsed",
    "Store",
    "StoreDamaged",
    "StoredFile",
    "discard",
    "url_key",
]
