"""capture.exits.parse: whatever the netlink socket hands over, it never raises."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pooltui.capture import exits
from pooltui.model import Exit


@given(st.binary(max_size=512))
def test_parse_never_raises_on_arbitrary_bytes(data):
    found = exits.parse(data, 1000.0, 5 * 10**9)
    assert all(isinstance(e, Exit) for e in found)


@given(st.integers(min_value=0, max_value=200))
def test_a_listen_request_truncated_anywhere_parses_to_nothing(cut):
    # our own LISTEN request is a well-formed connector message that is not an exit event
    assert exits.parse(exits._request(exits._PROC_CN_MCAST_LISTEN)[:cut], 0.0, 0) == []
