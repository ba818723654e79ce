#!/usr/bin/python3
"""Writes the seed corpora of the runtime reader fuzz targets: tests/fuzz/corpus/{npy,idx,png}/.
Run from anywhere with /usr/bin/python3 (standard library only). The seeds are small valid files in every
variant the readers handle (so the fuzzer starts from deep inside each parser) plus a few near misses;
the numpy-written .npy files of tests/data/rt are copied in as they are."""
import gzip, os, shutil, struct, zlib

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")
rt_data = os.path.join(here, "..", "data", "rt")


def out(kind, name, data):
    d = os.path.join(corpus, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- .npy: header dicts as numpy and other writers spell them ----
def npy(dict_text, data, major=1):
    pre = 10 if major == 1 else 12
    n = len(dict_text)
    hlen = (pre + n + 1 + 15) // 16 * 16 - pre
    header = dict_text.encode() + b" " * (hlen - n - 1) + b"\n"
    size = struct.pack("<H", hlen) if major == 1 else struct.pack("<I", hlen)
    return b"\x93NUMPY" + bytes([major, 0]) + size + header + data


os.makedirs(os.path.join(corpus, "npy"), exist_ok=True)
for name in ["f4_2x3.npy", "f8_3.npy", "u1_2x2.npy", "i4_4.npy", "i8_2.npy", "be_f4.npy", "scalar.npy",
             "empty_0x3.npy", "v2.npy", "v3.npy"]:
    shutil.copy(os.path.join(rt_data, name), os.path.join(corpus, "npy", name))
for descr, fmt, vals in [("<i2", "<3h", (-1, 0, 300)), (">u2", ">3H", (1, 2, 65535)), ("|i1", "3b", (-128, 0, 127)),
                         ("<u4", "<3I", (0, 1, 4294967295)), (">u8", ">3Q", (0, 1, 2 ** 64 - 1)),
                         (">f8", ">3d", (1e300, -0.0, 5e-324)), (">i4", ">3i", (-5, 6, -7))]:
    out("npy", "dtype_%s.npy" % descr[1:], npy("{'descr': '%s', 'fortran_order': False, 'shape': (3,), }" % descr,
                                               struct.pack(fmt, *vals)))
out("npy", "spaced_keys.npy", npy('{ "shape" : ( 1 , 2 ) , "fortran_order" : False , "descr" : "<f4" }',
                                  struct.pack("<2f", 1.5, -2.0)))
out("npy", "python2_long.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
                                   struct.pack("<2f", 1, 2)))
out("npy", "rank4.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 1), }",
                            struct.pack("<2f", 3, 4), major=2))
out("npy", "fortran_true.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", b"\0\0\0\0"))
out("npy", "structured.npy", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", b"\0" * 4))

# ---- IDX: plain and gzip ----
def idx(etype, dims, payload):
    return bytes([0, 0, etype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


idx_seeds = {
    "u8_3x2x2": idx(0x08, [3, 2, 2], bytes(range(12))),
    "i8_4": idx(0x09, [4], bytes([0, 127, 128, 255])),
    "i16_2x2": idx(0x0B, [2, 2], struct.pack(">4h", -1, 0, 1, 32767)),
    "i32_3": idx(0x0C, [3], struct.pack(">3i", -2 ** 31, 0, 2 ** 31 - 1)),
    "f32_2": idx(0x0D, [2], struct.pack(">2f", 1.5, float("inf"))),
    "f64_2": idx(0x0E, [2], struct.pack(">2d", -0.25, 1e308)),
    "labels_5": idx(0x08, [5], bytes([7, 2, 1, 0, 4])),
    "empty_0x3": idx(0x08, [0, 3], b""),
}
for name, data in idx_seeds.items():
    out("idx", name, data)
    out("idx", name + ".gz", gzip.compress(data, mtime=0))
# two gzip members back to back (what `cat a.gz b.gz` makes): one IDX file
whole = idx_seeds["u8_3x2x2"]
out("idx", "two_members.gz", gzip.compress(whole[:9], mtime=0) + gzip.compress(whole[9:], mtime=0))
out("idx", "truncated.gz", gzip.compress(whole, mtime=0)[:-6])


# ---- PNG: a minimal encoder independent of libpng (as tests/data/rt/gen.py) ----
def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)


def png(width, height, depth, ctype, rows, extra=b"", interlace=0, split_idat=False):
    raw = b"".join(b"\x00" + r for r in rows)
    z = zlib.compress(raw, 9)
    idat = chunk(b"IDAT", z[:len(z) // 2]) + chunk(b"IDAT", z[len(z) // 2:]) if split_idat else chunk(b"IDAT", z)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, interlace))
            + extra + idat + chunk(b"IEND", b""))


def pack_bits(vals, depth):
    bits = "".join(format(v, "0%db" % depth) for v in vals)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


W, H = 5, 3
gray = [[(x * 50 + y * 20) % 256 for x in range(W)] for y in range(H)]
rgb = [[((x * 60) % 256, (y * 90) % 256, (x * y * 30) % 256) for x in range(W)] for y in range(H)]
for depth in (1, 2, 4):
    out("png", "gray%d.png" % depth, png(W, H, depth, 0, [pack_bits([v % (1 << depth) for v in r], depth) for r in gray]))
    plte = b"".join(bytes(rgb[0][i % W]) for i in range(1 << depth))
    out("png", "palette%d.png" % depth,
        png(W, H, depth, 3, [pack_bits([v % (1 << depth) for v in r], depth) for r in gray],
            extra=chunk(b"PLTE", plte) + chunk(b"tRNS", b"\x00\x80")))
out("png", "gray8.png", png(W, H, 8, 0, [bytes(r) for r in gray], extra=chunk(b"gAMA", struct.pack(">I", 45455))))
out("png", "gray16.png", png(W, H, 16, 0, [b"".join(struct.pack(">H", v * 257) for v in r) for r in gray],
                             extra=chunk(b"tEXt", b"Comment\0fuzz seed")))
out("png", "graya8.png", png(W, H, 8, 4, [bytes(sum(([v, 255 - v] for v in r), [])) for r in gray]))
out("png", "rgb8.png", png(W, H, 8, 2, [bytes(sum((list(p) for p in r), [])) for r in rgb], split_idat=True,
                           extra=chunk(b"sRGB", b"\x00") + chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1))))
out("png", "rgba16.png", png(W, H, 16, 6, [b"".join(struct.pack(">4H", *(c * 257 for c in p), 65535) for p in r)
                                           for r in rgb]))
out("png", "rgb8_trns.png", png(W, H, 8, 2, [bytes(sum((list(p) for p in r), [])) for r in rgb],
                                extra=chunk(b"tRNS", struct.pack(">3H", 0, 0, 0))))


# Adam7: the seven passes, each a small image of its own, rows filtered with type 0
def adam7(width, height, pixel_rows, bytes_per_pixel):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        for y in range(y0, height, dy):
            if len(xs):
                raw += b"\x00" + b"".join(pixel_rows[y][x * bytes_per_pixel:(x + 1) * bytes_per_pixel] for x in xs)
    return raw


rows8 = [bytes(sum((list(p) for p in r), [])) for r in rgb]
ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 1))
out("png", "adam7_rgb8.png", b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(adam7(W, H, rows8, 3)))
    + chunk(b"IEND", b""))
out("png", "truncated.png", png(W, H, 8, 0, [bytes(r) for r in gray])[:70])


# ---- JPEG (fuzz_jpeg): the image fixtures (tests/reference/make_image_fixtures.py) ----
images = os.path.join(here, "..", "data", "images")
os.makedirs(os.path.join(corpus, "jpeg"), exist_ok=True)
for name in sorted(os.listdir(images)):
    if name.endswith(".jpg"):
        shutil.copy(os.path.join(images, name), os.path.join(corpus, "jpeg", name))
out("jpeg", "png_signature.png", open(os.path.join(images, "gray_28x28.png"), "rb").read())

# ---- image lists (fuzz_image_list) ----
out("image_list", "plain.txt", b"a.png\nb.jpg\n/abs/c.jpeg\n")
out("image_list", "classes.txt", b"# val\nILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 970\r\n\n")
out("image_list", "tabs_spaces.txt", b"  dir with space/x.png\t3  \nother.png 12\n")
out("image_list", "mixed.txt", b"a.png 1\nb.png\n")

# ---- data set records (fuzz_records): .npy and IDX, plain and gzip, one truncated ----
recs = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 2), }", struct.pack("<12f", *range(12)))
out("records", "f4_3x2x2.npy", recs)
out("records", "truncated.npy", recs[:-5])
out("records", "u1_4x3.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4, 3), }", bytes(range(12))))
idx = bytes([0, 0, 8, 3]) + struct.pack(">III", 3, 2, 2) + bytes(range(12))
out("records", "images.idx", idx)
out("records", "images.idx.gz", gzip.compress(idx, mtime=0))
out("records", "cut.idx.gz", gzip.compress(idx, mtime=0)[:-6])


# ---- journals (fuzz_journal): every line ends with " #" and the CRC-32 of what precedes it ----
def journal(*lines):
    return b"".join(l + b" #%08X\n" % zlib.crc32(l) for l in lines)


head = [b"xaic-journal 1 chunks=3 outputs=2 extra=1", b"job run%20sources=1234abcd%20data=/tmp/x.npy"]
out("journal", "started.journal", journal(*head))
out("journal", "two_done.journal", journal(*head, b"done 0 0A0B0C0D 11223344 0x1.8p+1",
                                            b"bad 2 7 cannot%20decode", b"done 2 00000000 FFFFFFFF 0x0p+0"))
out("journal", "complete.journal", journal(*head, b"done 0 0A0B0C0D 11223344 0x1p+0", b"done 1 1A0B0C0D 11223344 0x1p+0",
                                            b"done 2 2A0B0C0D 11223344 0x1p+0", b"complete"))
out("journal", "torn.journal", journal(*head, b"done 0 0A0B0C0D 11223344 0x1p+0")[:-7])
