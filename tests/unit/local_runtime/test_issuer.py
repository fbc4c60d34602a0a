"""`make token`'s issuer takes only a user id, matched whole."""

from __future__ import annotations

import pytest

from local_runtime import issuer


@pytest.mark.parametrize("user", ["nl-user\n", "\nnl-user", "a/b", "", "x" * 65])
def test_a_user_that_is_not_a_whole_id_gets_no_token(user: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert issuer.main(["--user", user]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "USER must be an id" in captured.err


def test_a_user_id_gets_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert issuer.main(["--user", "nl-user"]) == 0
    assert capsys.readouterr().out.count(".") == 2  # header.claims.signature
