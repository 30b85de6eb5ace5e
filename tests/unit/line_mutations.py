"""Line-level mutations of a valid text file, for fuzzing the annotation readers."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

Mutation = tuple[str, int, str]  # (kind, position, payload)


def mutations(samples: Sequence[str]) -> st.SearchStrategy[list[Mutation]]:
    """Up to six deletions, replacements, insertions or truncations of lines.

    Args:
        samples: lines of the format (often with odd values) to insert or replace with, beside
            arbitrary text.
    """
    text = st.one_of(st.text(max_size=40), st.sampled_from(list(samples)))
    one = st.one_of(
        st.tuples(st.just("delete"), st.integers(0, 200), st.just("")),
        st.tuples(st.just("replace"), st.integers(0, 200), text),
        st.tuples(st.just("insert"), st.integers(0, 200), text),
        st.tuples(st.just("truncate"), st.integers(0, 200), st.integers(0, 30).map(str)),
    )
    return st.lists(one, min_size=1, max_size=6)


def mutate(lines: list[str], changes: list[Mutation]) -> list[str]:
    """Apply ``changes`` to a copy of ``lines``."""
    lines = list(lines)
    for kind, position, payload in changes:
        index = position % (len(lines) + 1)
        if kind == "insert":
            lines.insert(index, payload)
        elif lines and kind == "delete":
            del lines[index % len(lines)]
        elif lines and kind == "replace":
            lines[index % len(lines)] = payload
        elif lines and kind == "truncate":
            lines[index % len(lines)] = lines[index % len(lines)][: int(payload)]
    return lines
