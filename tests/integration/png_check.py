#!/usr/bin/python3
"""tests/integration/png_check.py PNG: is a screenshot a page, not a blank?

Decodes the PNG with zlib alone (no PIL): chunks, IDAT inflated, each row
unfiltered (None/Sub/Up with numpy, Average/Paeth pixel by pixel), then
prints the size, the number of distinct colours, the share of non-white
pixels and of bluish and reddish ones. Exit 1 when it looks blank: fewer
than 20 colours or under 1 % of non-white pixels, or (with --plots) no
bluish or no reddish pixel (the data, the band; the detections)."""
import struct, sys, zlib
import numpy as np

def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 3 if ctype == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = w * bpp
    raw = raw.reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) % 256
        elif f == 2:
            cur = (line + prev) % 256
        else:
            cur = line.copy()
            p = prev.astype(np.int32)
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = p[i]
                if f == 3:
                    cur[i] = (cur[i] + (a + b) // 2) % 256
                else:
                    c = p[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[i] = (cur[i] + pr) % 256
        prev = cur.astype(np.uint8)
        out[y] = prev
    return out.reshape(h, w, bpp)[:, :, :3].astype(np.int32)

img = decode(sys.argv[1])
h, w, _ = img.shape
flat = img.reshape(-1, 3)
colours = len(np.unique(flat[:, 0] << 16 | flat[:, 1] << 8 | flat[:, 2]))
nonwhite = float(np.mean(flat.sum(axis=1) < 3 * 250))
r, g, b = flat[:, 0], flat[:, 1], flat[:, 2]
bluish = int(np.sum((b > r + 60) & (b > g + 20)))
reddish = int(np.sum((r > g + 100) & (r > b + 100)))
print(f"{w}x{h}, {colours} colours, {100 * nonwhite:.1f} % non-white, "
      f"{bluish} bluish, {reddish} reddish pixels")
ok = colours >= 20 and nonwhite >= 0.01
if "--plots" in sys.argv:
    ok = ok and bluish > 500 and reddish > 20
sys.exit(0 if ok else 1)
