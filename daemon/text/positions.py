"""Character offsets between the editor's position encoding and the wire's UTF-16.

LSP positions are (zero-based line, character) where ``character`` counts code
units of one encoding: UTF-16 by default, UTF-8 or UTF-32 when the client and
server agree on it at initialize. The relay protocol always speaks UTF-16
(``wire.Position``); Python strings index by code point (UTF-32).

Negotiation is pygls's job: during ``initialize`` pygls 2.x picks the client's
most preferred entry of ``capabilities.general.positionEncodings`` that it
supports (utf-8, utf-16, utf-32), falling back to UTF-16 when the client lists
none (Neovim 0.7 and VS Code list none, so both get UTF-16), and advertises the
choice in ``ServerCapabilities.positionEncoding``; ``daemon.lsp.negotiation`` makes
it prefer UTF-16 whenever the client offers it. Read the result with
:func:`negotiated` (``server.workspace.position_encoding``).

pygls itself converts nothing outside its own workspace documents, so every
editor-facing position is converted exactly once, at the boundary:

- editor -> wire: :func:`to_wire` (client units -> UTF-16), with the local line.
- wire -> editor: :func:`from_wire` (UTF-16 -> client units), with the local line.
- editor -> Python string index: :func:`to_index`; back: :func:`from_index`.

When the client encoding is UTF-16 (the common case) or the line is ASCII,
these are identities and cost nothing.

Out-of-range input
    A negative line or character is always an error (:class:`PositionError`).
    With ``clamp=True`` (the default) a character past the end of its line is
    moved to the line end, a character that falls inside one character (half a
    surrogate pair, the middle of a UTF-8 sequence) is moved back to the start
    of that character, and a line past the end of the text is moved to the end
    of the last line. With ``clamp=False`` each of these raises PositionError.
    Peers' positions come from files that may differ from ours, so the daemon
    clamps them; positions from the local editor are checked strictly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

from wire import Position, Range

Encoding = Literal["utf-8", "utf-16", "utf-32"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-16", "utf-32")
WIRE: Encoding = "utf-16"


class PositionError(ValueError):
    """a position that does not exist in the text it refers to."""


def encoding_of(value: object) -> Encoding:
    """Normalize an LSP ``PositionEncodingKind`` (enum or string) to an Encoding.

    Unknown or missing values mean UTF-16, the LSP default.
    """
    raw = getattr(value, "value", value)
    if isinstance(raw, str) and raw.lower() in ENCODINGS:
        return cast(Encoding, raw.lower())
    return WIRE


def negotiated(server: Any) -> Encoding:
    """The encoding pygls negotiated at initialize for ``server`` (a LanguageServer)."""
    try:
        return encoding_of(server.workspace.position_encoding)
    except (AttributeError, RuntimeError):
        return WIRE


def _char_units(ch: str, encoding: Encoding) -> int:
    cp = ord(ch)
    if encoding == "utf-16":
        return 2 if cp > 0xFFFF else 1
    if encoding == "utf-8":
        if cp < 0x80:
            return 1
        if cp < 0x800:
            return 2
        return 3 if cp < 0x10000 else 4
    return 1


def units(text: str, encoding: Encoding) -> int:
    """Length of ``text`` in code units of ``encoding``."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-16":
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    return len(text.encode("utf-8", "surrogatepass"))


def to_index(line: str, character: int, encoding: Encoding, *, clamp: bool = True) -> int:
    """Python string index in ``line`` of a ``character`` counted in ``encoding`` units.

    ``line`` excludes its line break. See the module docstring for out-of-range rules.
    """
    if character < 0:
        raise PositionError(f"negative character {character}")
    if encoding == "utf-32" or line.isascii():
        if character > len(line):
            if not clamp:
                raise PositionError(f"character {character} is past the line end ({len(line)})")
            return len(line)
        return character
    count = 0
    for index, ch in enumerate(line):
        if count == character:
            return index
        count += _char_units(ch, encoding)
        if count > character:
            if not clamp:
                raise PositionError(f"character {character} falls inside a character")
            return index
    if count == character:
        return len(line)
    if not clamp:
        raise PositionError(f"character {character} is past the line end ({count})")
    return len(line)


def from_index(line: str, index: int, encoding: Encoding) -> int:
    """Code units of ``encoding`` before Python string index ``index`` (clamped to the line)."""
    if index < 0:
        raise PositionError(f"negative index {index}")
    return units(line[:index], encoding)


def convert(line: str, character: int, src: Encoding, dst: Encoding, *, clamp: bool = True) -> int:
    """Convert a character offset on ``line`` from ``src`` units to ``dst`` units."""
    return from_index(line, to_index(line, character, src, clamp=clamp), dst)


def line_at(lines: Sequence[str], line: int, *, clamp: bool = True) -> tuple[int, str]:
    """The (possibly clamped) line number and its text; ``lines`` may be empty."""
    if line < 0:
        raise PositionError(f"negative line {line}")
    if not lines:
        if line == 0 or clamp:
            return 0, ""
        raise PositionError(f"line {line} is past the end of an empty text")
    if line >= len(lines):
        if not clamp:
            raise PositionError(f"line {line} is past the last line ({len(lines) - 1})")
        return len(lines) - 1, lines[-1]
    return line, lines[line]


def convert_position(
    lines: Sequence[str], pos: Position, src: Encoding, dst: Encoding, *, clamp: bool = True
) -> Position:
    """Convert ``pos`` between encodings against ``lines`` (a text split into lines).

    A line past the end clamps to the end of the last line (when ``clamp``).
    """
    number, text = line_at(lines, pos.line, clamp=clamp)
    if number != pos.line:
        return Position(line=number, character=units(text, dst))
    return Position(line=number, character=convert(text, pos.character, src, dst, clamp=clamp))


def convert_range(
    lines: Sequence[str], rng: Range, src: Encoding, dst: Encoding, *, clamp: bool = True
) -> Range:
    """Convert both ends of ``rng``; see :func:`convert_position`."""
    return Range(
        start=convert_position(lines, rng.start, src, dst, clamp=clamp),
        end=convert_position(lines, rng.end, src, dst, clamp=clamp),
    )


def to_wire(
    lines: Sequence[str], pos: Position, client: Encoding, *, clamp: bool = True
) -> Position:
    """An editor position (``client`` units) as a wire position (UTF-16)."""
    return convert_position(lines, pos, client, WIRE, clamp=clamp)


def from_wire(
    lines: Sequence[str], pos: Position, client: Encoding, *, clamp: bool = True
) -> Position:
    """A wire position (UTF-16) as an editor position in ``client`` units."""
    return convert_position(lines, pos, WIRE, client, clamp=clamp)

