"""require_utf8: the first byte that is not UTF-8, by position and line, wherever the chunks
the file is read in happen to cut it."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec import textfiles
from streamrec.errors import ValidationError
from streamrec.textfiles import require_utf8


@pytest.mark.parametrize("chunk", [3, 4, 5, 1 << 20])
@pytest.mark.parametrize(
    ("data", "bad"),
    [
        (b"plain ascii\n", None),
        ("caf\u00e9\n\u00e9t\u00e9 \u20ac\n".encode(), None),
        (b"\xff\xfe\x00garbage", (0xFF, 0, 1)),
        (b"ab\n\xc3\xa9c\nd\xff", (0xFF, 8, 3)),
        (b"abc\xc3", (0xC3, 3, 1)),  # the file ends inside a character
        (b"a\nb\xc3\xa9\xe9x", (0xE9, 5, 2)),
    ],
)
def test_the_first_bad_byte_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    data: bytes,
    bad: tuple[int, int, int] | None,
) -> None:
    monkeypatch.setattr(textfiles, "_CHUNK_BYTES", chunk)
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    if bad is None:
        require_utf8(path, "path")
        return
    with pytest.raises(ValidationError) as raised:
        require_utf8(path, "--users")
    byte, position, line = bad
    assert raised.value.field == "--users"
    assert f"byte 0x{byte:02x} at position {position}, line {line})" in str(raised.value)
