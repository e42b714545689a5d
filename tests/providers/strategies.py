"""Hypothesis strategies the provider parser properties share."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(
    *, text_size: int = 12, key_size: int = 8, max_leaves: int = 20
) -> st.SearchStrategy[Any]:
    """Arbitrary decoded JSON: scalars (floats include NaN and infinities), lists, objects."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=text_size),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=key_size), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )
