#!/usr/bin/python3
"""fbcheck.py IMAGE WIDTH HEIGHT: check a screenshot of the fb test pattern.

IMAGE is a PNG (8-bit RGB or RGBA, not interlaced; decoded here with zlib,
no imaging library needed) or a binary PPM (P6).  The pattern that the
guest's /init (vmx.script=fb) draws is eight vertical bars, each WIDTH/8
pixels wide, coloured black, red, green, yellow, blue, magenta, cyan, white,
and white to the right of the last bar.  Passes (exit 0) when the image is
WIDTH x HEIGHT and at least 99% of its pixels have the pattern's colour.
"""

import struct
import sys
import zlib

BARS = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (255, 255, 0),
        (0, 0, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, "
                         f"interlace {interlace}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                line[x] = (line[x] + paeth(a, b, c)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def read_ppm(data):
    fields, pos = [], 2
    while len(fields) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    width, height, _ = fields
    pixels = data[pos + 1:]
    rows = [[tuple(pixels[(y * width + x) * 3:(y * width + x) * 3 + 3]) for x in range(width)]
            for y in range(height)]
    return width, height, rows


def main():
    path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = open(path, "rb").read()
    width, height, rows = read_ppm(data) if data[:2] == b"P6" else read_png(data)
    if (width, height) != (want_w, want_h):
        print(f"fbcheck: image is {width}x{height}, not {want_w}x{want_h}")
        return 1
    bar = want_w // 8
    want_row = [BARS[min(x // bar, 7)] for x in range(width)]
    bad, first = 0, None
    for y, row in enumerate(rows):
        for x, pixel in enumerate(row):
            if pixel != want_row[x]:
                bad += 1
                first = first or (x, y, pixel, want_row[x])
    total = width * height
    print(f"fbcheck: {width}x{height}, {total - bad} of {total} pixels match the pattern"
          + (f"; first wrong at {first[:2]}: {first[2]}, want {first[3]}" if first else ""))
    return 0 if bad * 100 <= total else 1


if __name__ == "__main__":
    sys.exit(main())
