"""Coverage-guided fuzzing of the record parser with atheris.

    pip install atheris
    mkdir -p /tmp/fuzz-corpus   # libFuzzer adds what it finds to the first folder
    PYTHONPATH=. python fuzz/fuzz_records.py /tmp/fuzz-corpus tests/data tests/data/nasty -max_total_time=600

Every input must come back as a record or as one-line problems: an exception
the parser did not foresee, or a problem spanning lines, is a bug and stops
the run with the input saved.
The test suite runs a short, bounded version of the same property with
Hypothesis (tests/test_properties.py).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from feeds.records import INTERNAL, parse_record


def one_input(data: bytes) -> None:
    result = parse_record("fuzz.txt", data)
    assert result.record is not None or result.problems, "neither a record nor a problem"
    for problem in result.problems:
        assert "\n" not in str(problem), str(problem)
        assert INTERNAL not in problem.message, str(problem)  # an exception nothing foresaw


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
