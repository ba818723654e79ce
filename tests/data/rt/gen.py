#!/usr/bin/python3
"""Regenerates the small runtime test files in this directory (run from here with /usr/bin/python3).
The .npy files are written by numpy itself and the PNGs by a minimal independent encoder below (not
libpng), so the tests check libxairt against other implementations. Values are asserted in
tests/unit/test_rt_npy.c / test_rt_png.c / test_rt_idx.c."""
import gzip, struct, zlib
import numpy as np

# ---- .npy ----
a = (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3)   # [[-1,-.5,0],[.5,1,1.5]]
np.save("f4_2x3.npy", a)
np.save("f8_3.npy", np.array([1.5, -2.25, 1e10], dtype="<f8"))
np.save("u1_2x2.npy", np.array([[0, 255], [7, 128]], dtype=np.uint8))
np.save("i4_4.npy", np.array([-3, 0, 7, 2147483647], dtype="<i4"))
np.save("i8_2.npy", np.array([-(2**40), 12345], dtype="<i8"))
np.save("be_f4.npy", np.array([1.25, -3.5], dtype=">f4"))
np.save("scalar.npy", np.array(42.5, dtype=np.float32))
np.save("empty_0x3.npy", np.zeros((0, 3), dtype=np.float32))
np.save("fortran.npy", np.asfortranarray(a))
np.save("c8.npy", np.array([1 + 2j], dtype=np.complex64))          # unsupported dtype
for ver in [(2, 0), (3, 0)]:
    with open("v%d.npy" % ver[0], "wb") as f:
        np.lib.format.write_array(f, a, version=ver)

# ---- PNG (2 rows x 3 columns) ----
def png(path, width, height, depth, ctype, rows, plte=None, trns=None):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)
    raw = b"".join(b"\x00" + r for r in rows)   # filter type 0 (None) on every row
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, 0))
    if plte: out += chunk(b"PLTE", plte)
    if trns: out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(out)

G8 = [[0, 128, 255], [10, 20, 30]]
G16 = [[0, 32768, 65535], [1000, 2000, 3000]]
RGB = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)], [(10, 20, 30), (200, 100, 50), (255, 255, 255)]]
u8 = lambda vals: bytes(vals)
u16 = lambda vals: b"".join(struct.pack(">H", v) for v in vals)
png("gray8.png", 3, 2, 8, 0, [u8(r) for r in G8])
png("gray16.png", 3, 2, 16, 0, [u16(r) for r in G16])
png("gray1.png", 3, 2, 1, 0, [bytes([0b01000000]), bytes([0b11000000])])   # [[0,1,0],[1,1,0]]
png("graya8.png", 3, 2, 8, 4, [u8(sum(([v, 77] for v in r), [])) for r in G8])
png("graya16.png", 3, 2, 16, 4, [u16(sum(([v, 5] for v in r), [])) for r in G16])
png("rgb8.png", 3, 2, 8, 2, [u8(sum((list(p) for p in r), [])) for r in RGB])
png("rgb16.png", 3, 2, 16, 2, [u16(sum(([c * 257 for c in p] for p in r), [])) for r in RGB])
png("rgba8.png", 3, 2, 8, 6, [u8(sum((list(p) + [9] for p in r), [])) for r in RGB])
png("rgba16.png", 3, 2, 16, 6, [u16(sum(([c * 257 for c in p] + [0] for p in r), [])) for r in RGB])
# palette: index i -> colour of RGB flattened; tRNS makes entry 0 transparent (alpha must be dropped)
flat = RGB[0] + RGB[1]
png("palette.png", 3, 2, 8, 3, [bytes([0, 1, 2]), bytes([3, 4, 5])],
    plte=b"".join(bytes(p) for p in flat), trns=bytes([0]))
open("truncated.png", "wb").write(open("rgb8.png", "rb").read()[:60])

# ---- IDX: 3 images of 2x2 uint8, gzip-compressed like the MNIST downloads ----
imgs = bytes([0, 255, 51, 102, 1, 2, 3, 4, 250, 251, 252, 253])
with gzip.open("images.idx3.gz", "wb") as f:
    f.write(struct.pack(">BBBBIII", 0, 0, 0x08, 3, 3, 2, 2) + imgs)
