"""Character offsets between UTF-8, UTF-16 and UTF-32 on lines with multi-byte text."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types

from daemon.lsp.negotiation import choose, prefer_wire
from daemon.text.positions import (
    ENCODINGS,
    PositionError,
    convert,
    convert_position,
    encoding_of,
    from_index,
    from_wire,
    to_index,
    to_wire,
    units,
)
from wire import Position

SAMPLES = [
    "",
    "plain ascii",
    "héllo wörld",
    "日本語のテキスト",
    "emoji 😀 and 🎉 here",
    "e\u0301 combining a\u0308 marks",  # combining accents are separate code points
    "family 👨‍👩‍👧 zwj",
    "mixed: ñ 中 🚀 a\u0301 end",
    "\t🚀🚀🚀",
]
ALPHABET = "ab ñé中文😀🎉\u0301\u0308\t{}"


def _utf_units(text: str, enc: str) -> int:
    codec = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}[enc]
    width = {"utf-8": 1, "utf-16": 2, "utf-32": 4}[enc]
    return len(text.encode(codec)) // width


def _random_lines(count: int) -> list[str]:
    rng = random.Random(1234)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(count)]


@pytest.mark.parametrize("enc", ENCODINGS)
def test_units_match_python_codecs_on_every_sample(enc: str) -> None:
    """units() counts code units exactly like Python's codecs do."""
    for line in SAMPLES + _random_lines(200):
        assert units(line, enc) == _utf_units(line, enc)  # type: ignore[arg-type]


@pytest.mark.parametrize("src", ENCODINGS)
@pytest.mark.parametrize("dst", ENCODINGS)
def test_every_character_boundary_round_trips_between_encodings(src: str, dst: str) -> None:
    """Property: for every code point boundary, src -> dst -> src is the identity and
    the converted offset equals the encoded length of the prefix."""
    for line in SAMPLES + _random_lines(150):
        for index in range(len(line) + 1):
            a = _utf_units(line[:index], src)
            b = convert(line, a, src, dst)  # type: ignore[arg-type]
            assert b == _utf_units(line[:index], dst)
            assert convert(line, b, dst, src) == a  # type: ignore[arg-type]
            assert to_index(line, a, src) == index  # type: ignore[arg-type]
            assert from_index(line, index, src) == a  # type: ignore[arg-type]


def test_emoji_column_differs_per_encoding() -> None:
    """The character after an emoji sits at 8 (UTF-8), 7 (UTF-16) or 6 (UTF-32) on 'ab😀x'... ."""
    line = "ab😀x"
    assert convert(line, 4, "utf-16", "utf-8") == 6
    assert convert(line, 4, "utf-16", "utf-32") == 3
    assert convert(line, 6, "utf-8", "utf-16") == 4
    assert convert(line, 3, "utf-32", "utf-16") == 4


def test_offset_inside_a_character_clamps_back_or_raises_when_strict() -> None:
    """Half a surrogate pair / the middle of a UTF-8 sequence moves to the character start."""
    line = "a😀b"
    assert to_index(line, 2, "utf-16") == 1  # inside the surrogate pair
    assert to_index(line, 3, "utf-8") == 1  # inside the 4-byte sequence
    with pytest.raises(PositionError, match="inside a character"):
        to_index(line, 2, "utf-16", clamp=False)


def test_past_line_end_clamps_to_the_end_or_raises_when_strict() -> None:
    """A character beyond the line end clamps to the end; strict mode says so."""
    assert to_index("中文", 99, "utf-8") == 2
    assert convert("中文", 99, "utf-16", "utf-8") == 6
    with pytest.raises(PositionError, match="past the line end"):
        to_index("中文", 7, "utf-8", clamp=False)
    with pytest.raises(PositionError, match="past the line end"):
        to_index("abc", 4, "utf-16", clamp=False)


def test_negative_positions_always_raise() -> None:
    """Negative lines and characters are errors even when clamping."""
    with pytest.raises(PositionError):
        to_index("abc", -1, "utf-16")
    with pytest.raises(PositionError):
        to_wire(["abc"], Position(line=-1, character=0), "utf-8")


def test_line_past_the_end_clamps_to_the_last_line_end() -> None:
    """A line beyond the text moves to the end of the last line, or raises when strict."""
    lines = ["first", "ü😀"]
    assert convert_position(lines, Position(line=9, character=0), "utf-16", "utf-8") == Position(
        line=1, character=6
    )
    with pytest.raises(PositionError, match="past the last line"):
        to_wire(lines, Position(line=2, character=0), "utf-8", clamp=False)


def test_wire_round_trip_for_a_utf8_client() -> None:
    """A UTF-8 client's column after an emoji maps to the UTF-16 wire column and back."""
    lines = ['x = "😀" # note']
    client = Position(line=0, character=lines[0].encode().index(b"#"))
    wire = to_wire(lines, client, "utf-8")
    assert wire.character == lines[0].index("#") + 1  # one extra UTF-16 unit for the emoji
    assert from_wire(lines, wire, "utf-8") == client


def test_encoding_names_normalize_from_lsprotocol_kinds() -> None:
    """lsprotocol enum members and raw strings map to the same encoding; unknown is UTF-16."""
    assert encoding_of(types.PositionEncodingKind.Utf8) == "utf-8"
    assert encoding_of("utf-32") == "utf-32"
    assert encoding_of(None) == "utf-16"
    assert encoding_of("latin-1") == "utf-16"


def test_server_prefers_utf16_unless_the_client_only_offers_others() -> None:
    """choose() keeps the wire encoding when offered, else the client's first supported one."""
    assert choose(None) == "utf-16"
    assert choose(["utf-8", "utf-16"]) == "utf-16"
    assert choose(["utf-32", "utf-8"]) == "utf-32"
    assert choose(["latin-1"]) == "utf-16"


def test_prefer_wire_reorders_initialize_params_for_pygls() -> None:
    """After prefer_wire, pygls's own negotiation picks UTF-16 from a client offering both."""
    from pygls.capabilities import ServerCapabilitiesBuilder

    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(
            general=types.GeneralClientCapabilities(
                position_encodings=[
                    types.PositionEncodingKind.Utf8,
                    types.PositionEncodingKind.Utf16,
                ]
            )
        )
    )
    assert ServerCapabilitiesBuilder.choose_position_encoding(params.capabilities) == "utf-8"
    prefer_wire(params)
    assert ServerCapabilitiesBuilder.choose_position_encoding(params.capabilities) == "utf-16"
