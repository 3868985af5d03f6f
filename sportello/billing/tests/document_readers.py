"""Reading back what documents draw, for their tests: the QR code a PDF draws as vector
squares or the printable page shows as an SVG image, and the text that QR code holds."""

from __future__ import annotations

import base64
import functools
import io
import re
from xml.etree import ElementTree

from pypdf import PdfReader


def qr_modules_in(data: bytes) -> list[list[bool]] | None:
    """The QR code drawn on the PDF's first page, read back from its vector squares (the
    path of runs of dark modules that `pdf.QrCode` draws) onto the grid of its module size;
    None when the page has no such path."""
    content = PdfReader(io.BytesIO(data)).pages[0].get_contents().get_data().decode("latin-1")
    number = r"-?[\d.]+"
    square = rf"({number}) ({number}) ({number}) ({number}) re"
    filled = rf"n ((?:{number} {number} {number} {number} re\s+)+)f\*"
    paths = [re.findall(square, found) for found in re.findall(filled, content)]
    # The QR code: a run of squares on each of its at least 21 rows; table shading has a few.
    runs = [tuple(float(v) for v in run) for run in max(paths, key=len, default=[])]
    if len(runs) < 21:
        return None
    module = runs[0][3]
    assert all(abs(height - module) < 1e-3 for *_, height in runs)
    # Four modules of quiet zone on each side; the first row's squares sit five modules below the top.
    size = round(max(y for _, y, _, _ in runs) / module) + 5
    count = size - 8
    matrix = [[False] * count for _ in range(count)]
    for x, y, width, _ in runs:
        row, start, length = size - 5 - round(y / module), round(x / module) - 4, round(width / module)
        for col in range(start, start + length):
            matrix[row][col] = True
    return matrix


def svg_qr_modules(svg: bytes) -> list[list[bool]]:
    """The modules of a QR code drawn as an SVG by segno (one path of horizontal runs, in
    module units, scaled; a quiet zone of four modules), without the quiet zone."""
    root = ElementTree.fromstring(svg)
    (path,) = root.iter("{http://www.w3.org/2000/svg}path")
    scale = float(re.fullmatch(r"scale\(([\d.]+)\)", path.get("transform", "scale(1)")).group(1))  # type: ignore[union-attr]
    count = round(float(root.get("width", "0")) / scale) - 8
    matrix = [[False] * count for _ in range(count)]
    x = y = 0.0
    for command, first, second in re.findall(r"([MmHh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d", "")):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            length = float(first) if command == "h" else float(first) - x
            row = round(y - 0.5) - 4
            for col in range(round(x) - 4, round(x + length) - 4):
                matrix[row][col] = True
            x += length
    return matrix


def data_uri_svg(uri: str) -> bytes:
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix), uri[:40]
    return base64.b64decode(uri[len(prefix) :])


# --- A QR code reader, for the payment codes documents print ---------------------------------
# Enough of ISO/IEC 18004 (model 2) to read back, independently of the library that drew it,
# the payment codes documents carry: error correction level M (what EPC069-12 requires and
# `payment_codes.payment_qr` writes), versions 1 to 13 (the EPC limit), numeric,
# alphanumeric and byte segments. The modules must be exact (it checks, but never corrects,
# errors): it reads vector squares and generated matrices, not photographs.

# Level M: per version, (error correction codewords per block, [(blocks, data codewords each), ...]).
LEVEL_M_BLOCKS = {
    1: (10, [(1, 16)]),
    2: (16, [(1, 28)]),
    3: (26, [(1, 44)]),
    4: (18, [(2, 32)]),
    5: (24, [(2, 43)]),
    6: (16, [(4, 27)]),
    7: (18, [(4, 31)]),
    8: (22, [(2, 38), (2, 39)]),
    9: (22, [(3, 36), (2, 37)]),
    10: (26, [(4, 43), (1, 44)]),
    11: (30, [(1, 50), (4, 51)]),
    12: (22, [(6, 36), (2, 37)]),
    13: (22, [(8, 37), (1, 38)]),
}
ALIGNMENT_CENTRES = {
    1: [],
    2: [6, 18],
    3: [6, 22],
    4: [6, 26],
    5: [6, 30],
    6: [6, 34],
    7: [6, 22, 38],
    8: [6, 24, 42],
    9: [6, 26, 46],
    10: [6, 28, 50],
    11: [6, 30, 54],
    12: [6, 32, 58],
    13: [6, 34, 62],
}
MASKS = [
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
]
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


class QrUnreadable(ValueError):
    pass


def _format_bits(level: int, mask: int) -> int:
    """The 15 format bits of an error correction level (L 1, M 0, Q 3, H 2) and mask: BCH(15,5), masked."""
    data = level << 3 | mask
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder) ^ 0x5412


@functools.cache
def _function_modules(version: int) -> frozenset[tuple[int, int]]:
    """Finder patterns with their separators and format areas, timing lines, alignment
    patterns and version areas: every module that holds no data."""
    size = 17 + 4 * version
    taken = set()
    for top, left in ((0, 0), (0, size - 8), (size - 8, 0)):
        # 7 x 7 finder, its separator, and the format information (with the dark module) beside it.
        rows = range(top, top + 9) if top == 0 else range(top, size)
        cols = range(left, left + 9) if left == 0 else range(left, size)
        taken |= {(r, c) for r in rows for c in cols}
    taken |= {(6, i) for i in range(size)} | {(i, 6) for i in range(size)}
    centres = ALIGNMENT_CENTRES[version]
    for r in centres:
        for c in centres:
            if (r, c) in ((6, 6), (6, centres[-1]), (centres[-1], 6)):
                continue
            taken |= {(r + dr, c + dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    if version >= 7:
        taken |= {(r, c) for r in range(6) for c in range(size - 11, size - 8)}
        taken |= {(r, c) for r in range(size - 11, size - 8) for c in range(6)}
    return frozenset(taken)


@functools.cache
def _gf_tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power], log[value] = value, power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


def _codewords_check(block: list[int], ec_count: int) -> bool:
    """Reed-Solomon over GF(256) (x^8 + x^4 + x^3 + x^2 + 1): a block without errors is zero
    at each root α^0 ... α^(ec-1) of the generator polynomial."""
    exp, log = _gf_tables()
    for root in range(ec_count):
        value = 0
        for codeword in block:
            value = (exp[log[value] + root] if value else 0) ^ codeword
        if value:
            return False
    return True


def qr_decode(matrix: list[list[bool]]) -> str:
    """The text a QR code at error correction level M holds (UTF-8), read from its modules."""
    size = len(matrix)
    version = (size - 17) // 4
    if size != 17 + 4 * version or version not in LEVEL_M_BLOCKS:
        raise QrUnreadable(f"a {size} x {size} symbol is not a version this reader knows")
    bit = lambda r, c: int(matrix[r][c])  # noqa: E731
    first_copy = [bit(i, 8) for i in range(6)] + [bit(7, 8), bit(8, 8), bit(8, 7)]
    first_copy += [bit(8, 14 - i) for i in range(9, 15)]
    read = sum(value << i for i, value in enumerate(first_copy))
    formats = {_format_bits(level, mask): (level, mask) for level in range(4) for mask in range(8)}
    if read not in formats:
        raise QrUnreadable("format information is damaged")
    level, mask_number = formats[read]
    if level != 0:
        raise QrUnreadable("only error correction level M is read")
    mask = MASKS[mask_number]
    function = _function_modules(version)
    bits: list[int] = []
    col, upward = size - 1, True
    while col > 0:
        if col == 6:
            col -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for r in rows:
            for c in (col, col - 1):
                if (r, c) not in function:
                    bits.append(bit(r, c) ^ int(mask(r, c)))
        col, upward = col - 2, not upward
    ec_count, groups = LEVEL_M_BLOCKS[version]
    sizes = [data for count, data in groups for _ in range(count)]
    total = sum(sizes) + ec_count * len(sizes)
    codewords = [int("".join(map(str, bits[i * 8 : i * 8 + 8])), 2) for i in range(total)]
    blocks: list[list[int]] = [[] for _ in sizes]
    position = 0
    for i in range(max(sizes)):
        for block, data_size in zip(blocks, sizes, strict=True):
            if i < data_size:
                block.append(codewords[position])
                position += 1
    for _ in range(ec_count):
        for block in blocks:
            block.append(codewords[position])
            position += 1
    if not all(_codewords_check(block, ec_count) for block in blocks):
        raise QrUnreadable("the error correction codewords do not match the data")
    stream = "".join(
        f"{codeword:08b}" for block, data_size in zip(blocks, sizes, strict=True) for codeword in block[:data_size]
    )
    text, at = bytearray(), 0

    def take(count: int) -> int:
        nonlocal at
        value = int(stream[at : at + count] or "0", 2)
        at += count
        return value

    small = version <= 9
    while at + 4 <= len(stream):
        mode = take(4)
        if mode == 0:
            break
        if mode == 0b0100:
            text += bytes(take(8) for _ in range(take(8 if small else 16)))
        elif mode == 0b0001:
            count = take(10 if small else 12)
            digits = ""
            while count > 0:
                width = min(count, 3)
                digits += f"{take({3: 10, 2: 7, 1: 4}[width]):0{width}d}"
                count -= width
            text += digits.encode("ascii")
        elif mode == 0b0010:
            count = take(9 if small else 11)
            chars = ""
            while count > 1:
                pair = take(11)
                chars += ALPHANUMERIC[pair // 45] + ALPHANUMERIC[pair % 45]
                count -= 2
            if count:
                chars += ALPHANUMERIC[take(6)]
            text += chars.encode("ascii")
        elif mode == 0b0111:
            take(8)  # an ECI designator (one byte is all UTF-8's 26 needs)
        else:
            raise QrUnreadable(f"segment mode {mode:04b} is not read")
    return text.decode("utf-8")
