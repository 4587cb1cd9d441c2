#!/usr/bin/python3
"""Generates tests/data/images/: small image files of every kind decode_image handles, and the
manifest of what Pillow 9.4 makes of them (the reference pipeline's Image.open(p).convert("RGB") and
Image.resize((w, h), BICUBIC)).

Needs Debian's python3-pil (Pillow 9.4.0, the goldens' version) and numpy: run it with /usr/bin/python3.
The tests read only the generated files, never Python.

manifest.txt lines (checksums are FNV-1a 64 of the RGB bytes, row-major, as hex):
  decode FILE W H CHECKSUM      Pillow decodes FILE to W x H RGB with that checksum
  decode FILE error             Pillow raises on FILE
  resize FILE W H CHECKSUM      FILE decoded, then resized to W x H (bicubic)
  pattern SW SH W H CHECKSUM    the synthetic SW x SH pattern (see pattern() below) resized to W x H
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image

assert PIL.__version__ == "9.4.0", f"need Pillow 9.4.0 (the goldens'), have {PIL.__version__}"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images")
rng = np.random.default_rng(20240611)
files = {}  # name -> bytes


def fnv(b):
    h = 0xCBF29CE484222325
    for x in b:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def pil_save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def noise(h, w, c=3):
    return rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)


def scene(h, w):
    """Smooth gradients plus hard edges: what photos and screenshots have."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1)).astype(np.uint8)
    g = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    b = (((x // 4 + y // 4) % 2) * 200 + 30).astype(np.uint8)
    return np.stack([r, g, b], -1)


# ---------------------------------------------------------------------------------------------- PNG
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(samples, depth):
    """samples: 1-D int array of one row (channels interleaved)."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per = 8 // depth
    n = (len(samples) + per - 1) // per
    padded = np.zeros(n * per, dtype=np.int64)
    padded[: len(samples)] = samples
    out = np.zeros(n, dtype=np.int64)
    for i in range(per):
        out |= padded[i::per] << (8 - depth * (i + 1))
    return out.astype(np.uint8).tobytes()


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(arr, ctype, depth, plte=None, trns=None, interlace=False):
    """arr: (h, w, channels) sample values. Filter 0 on every row."""
    h, w = arr.shape[:2]
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\0" + pack_row(row.reshape(-1), depth)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    if plte is not None:
        out += chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def add_png():
    files["png_rgb8.png"] = pil_save(Image.fromarray(scene(23, 37)), "PNG")
    files["png_noise_41x29.png"] = pil_save(Image.fromarray(noise(29, 41)), "PNG")
    files["png_rgba8.png"] = pil_save(Image.fromarray(noise(13, 21, 4), "RGBA"), "PNG")
    files["png_l8.png"] = pil_save(Image.fromarray(noise(13, 21, 1)[..., 0], "L"), "PNG")
    files["png_la8.png"] = pil_save(Image.fromarray(noise(13, 21, 2), "LA"), "PNG")
    files["png_1bit_pil.png"] = pil_save(Image.fromarray(noise(13, 21, 1)[..., 0]).convert("1"), "PNG")
    p = Image.fromarray(scene(13, 21)).quantize(7)
    p.info["transparency"] = 2
    files["png_p8_trns_pil.png"] = pil_save(p, "PNG", transparency=2)
    g = lambda d, c=1: rng.integers(0, 1 << d, size=(13, 21, c))
    files["png_g1.png"] = png(g(1), 0, 1)
    files["png_g2.png"] = png(g(2), 0, 2)
    files["png_g4.png"] = png(g(4), 0, 4)
    g16 = g(16)
    g16[0, :10, 0] = np.arange(250, 260)  # around the 255 clip
    files["png_g16.png"] = png(g16, 0, 16)
    files["png_g16_trns.png"] = png(g16, 0, 16, trns=b"\x00\x07")
    files["png_ga16.png"] = png(g(16, 2), 4, 16)
    files["png_rgb16.png"] = png(g(16, 3), 2, 16)
    files["png_rgba16.png"] = png(g(16, 4), 6, 16)
    files["png_rgb8_trns.png"] = png(g(8, 3), 2, 8, trns=b"\x00\x01\x00\x02\x00\x03")
    pal5 = rng.integers(0, 256, size=(5, 3))
    files["png_p1.png"] = png(g(1), 3, 1, plte=pal5[:2])
    files["png_p2_short_plte.png"] = png(g(2), 3, 2, plte=pal5[:3])  # index 3 is past PLTE
    files["png_p4_short_plte.png"] = png(g(4), 3, 4, plte=pal5)
    files["png_p8_short_plte_trns.png"] = png(g(8), 3, 8, plte=pal5, trns=b"\x00\x80")
    files["png_rgb8_interlaced.png"] = png(g(8, 3), 2, 8, interlace=True)
    files["png_g16_interlaced.png"] = png(g16, 0, 16, interlace=True)
    files["png_p4_interlaced_3x5.png"] = png(rng.integers(0, 5, size=(5, 3, 1)), 3, 4, plte=pal5, interlace=True)
    files["png_1x1.png"] = png(g(8, 3)[:1, :1], 2, 8)
    files["png_1x100000.png"] = png(np.tile(np.arange(256), 400)[:100000].reshape(100000, 1, 1), 0, 8)
    files["png_100000x1.png"] = png(np.tile(np.arange(256), 400)[:100000].reshape(1, 100000, 1), 0, 8)
    good = files["png_rgb8.png"]
    files["png_truncated.png"] = good[: len(good) // 2]
    files["png_bad_zlib.png"] = png(g(8, 3), 2, 8)[:60] + b"\xff" * 10 + png(g(8, 3), 2, 8)[70:]
    files["png_bomb.png"] = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------------------------- JPEG
def add_jpeg():
    im = Image.fromarray(scene(23, 37))
    files["jpeg_420.jpg"] = pil_save(im, "JPEG", quality=90, subsampling=2)
    files["jpeg_422.jpg"] = pil_save(im, "JPEG", quality=90, subsampling=1)
    files["jpeg_444.jpg"] = pil_save(im, "JPEG", quality=90, subsampling=0)
    files["jpeg_progressive.jpg"] = pil_save(im, "JPEG", quality=80, progressive=True)
    files["jpeg_grey.jpg"] = pil_save(im.convert("L"), "JPEG", quality=85)
    files["jpeg_cmyk.jpg"] = pil_save(im.convert("CMYK"), "JPEG", quality=90)
    files["jpeg_noise.jpg"] = pil_save(Image.fromarray(noise(17, 19)), "JPEG", quality=95)
    good = files["jpeg_420.jpg"]
    files["jpeg_truncated.jpg"] = good[: len(good) * 2 // 3]
    files["jpeg_no_eoi.jpg"] = good[:-2]
    sof = good.index(b"\xff\xc0")
    files["jpeg_bomb.jpg"] = good[: sof + 5] + struct.pack(">HH", 65000, 65000) + good[sof + 9:]


# --------------------------------------------------------------------------------------------- WebP
def add_webp():
    im = Image.fromarray(scene(23, 37))
    files["webp_lossy.webp"] = pil_save(im, "WEBP", quality=80)
    files["webp_lossless.webp"] = pil_save(Image.fromarray(noise(13, 21)), "WEBP", lossless=True)
    rgba = np.concatenate([scene(23, 37), rng.integers(0, 256, size=(23, 37, 1), dtype=np.uint8)], -1)
    files["webp_alpha.webp"] = pil_save(Image.fromarray(rgba, "RGBA"), "WEBP", quality=80)
    frames = [Image.fromarray(scene(23, 37)), Image.fromarray(noise(23, 37))]
    files["webp_animated.webp"] = pil_save(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    good = files["webp_lossy.webp"]
    files["webp_truncated.webp"] = good[: len(good) // 2]


# ---------------------------------------------------------------------------------------------- GIF
def lzw(indices, min_bits, end_after=None):
    """A plain GIF LZW encoder (clear at start, table grows to 4096 then clear). end_after=k puts an
    end-of-information code after the k-th data code (Pillow reads on past it)."""
    clear, end = 1 << min_bits, (1 << min_bits) + 1
    size = min_bits + 1
    out_bits = []

    def emit(c):
        out_bits.append((c, size))
        if end_after is not None and c != clear and len(out_bits) == end_after + 1:
            out_bits.append((end, size))

    table = {(i,): i for i in range(clear)}
    nxt = end + 1
    emit(clear)
    cur = ()
    for v in indices:
        cand = cur + (int(v),)
        if cand in table:
            cur = cand
            continue
        emit(table[cur])
        if nxt < 4096:
            table[cand] = nxt
            nxt += 1
            # the decoder adds this entry one code later, and widens after adding index 2^size - 1
            if nxt - 1 == (1 << size) and size < 12:
                size += 1
        else:
            emit(clear)
            table = {(i,): i for i in range(clear)}
            nxt, size = end + 1, min_bits + 1
        cur = (int(v),)
    if cur:
        emit(table[cur])
        if nxt - 1 == (1 << size) - 1 and size < 12:  # the decoder's last entry widens the end code
            size += 1
    emit(end)
    acc = nbits = 0
    data = bytearray()
    for c, s in out_bits:
        acc |= c << nbits
        nbits += s
        while nbits >= 8:
            data.append(acc & 255)
            acc >>= 8
            nbits -= 8
    if nbits:
        data.append(acc & 255)
    return bytes(data)


def sub_blocks(data, block=255, empty_at=None):
    """empty_at=k inserts a zero-length block (a terminator, to a spec reader) before block k."""
    out = b""
    for k, i in enumerate(range(0, len(data), block)):
        if k == empty_at:
            out += b"\0"
        part = data[i: i + block]
        out += bytes([len(part)]) + part
    return out + b"\0"


def gif(screen, frames, global_pal=None, bits=3):
    """frames: list of dicts(x, y, idx (h, w), trns=None, local=None, interlace=False, min_bits)."""
    sw, sh = screen
    flags = 0
    if global_pal is not None:
        flags = 0x80 | (bits - 1)
    out = b"GIF89a" + struct.pack("<HHBBB", sw, sh, flags, 0, 0)
    if global_pal is not None:
        out += bytes(np.asarray(global_pal, dtype=np.uint8).reshape(-1))
    for f in frames:
        if f.get("trns") is not None:
            out += b"!\xf9\x04" + bytes([1, 0, 0, f["trns"]]) + b"\0"
        idx = f["idx"]
        h, w = idx.shape
        iflags = 0x40 if f.get("interlace") else 0
        local = f.get("local")
        if local is not None:
            iflags |= 0x80 | (f["local_bits"] - 1)
        out += b"," + struct.pack("<HHHHB", f["x"], f["y"], w, h, iflags)
        if local is not None:
            out += bytes(np.asarray(local, dtype=np.uint8).reshape(-1))
        rows = idx
        if f.get("interlace"):
            order = list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) + list(range(1, h, 2))
            rows = idx[order]
        mb = f.get("min_bits", 4)
        data = f.get("raw") or lzw(rows.reshape(-1), mb)
        out += bytes([mb]) + sub_blocks(data, f.get("block", 255), f.get("empty_at"))
    return out + b";"


def add_gif():
    pal8 = rng.integers(0, 256, size=(8, 3))
    idx = lambda h, w, n=16: rng.integers(0, n, size=(h, w))
    files["gif_pil.gif"] = pil_save(Image.fromarray(scene(23, 37)).quantize(32), "GIF")
    frames = [Image.fromarray(scene(23, 37)).quantize(16), Image.fromarray(noise(23, 37)).quantize(16)]
    files["gif_pil_animated.gif"] = pil_save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    # indices 8..15 are past the 8-entry palette; the transparent index 5 fills the screen
    files["gif_offset_trns.gif"] = gif((20, 12), [dict(x=3, y=2, idx=idx(6, 10), trns=5)], pal8)
    files["gif_enlarged.gif"] = gif((8, 8), [dict(x=4, y=4, idx=idx(6, 10))], pal8)
    files["gif_interlaced.gif"] = gif((9, 11), [dict(x=0, y=0, idx=idx(11, 9), interlace=True)], pal8)
    files["gif_local_palette.gif"] = gif((9, 7), [dict(x=0, y=0, idx=idx(7, 9), local=rng.integers(0, 256, size=(16, 3)), local_bits=4)], pal8)
    files["gif_no_palette.gif"] = gif((9, 7), [dict(x=1, y=1, idx=idx(5, 7))])
    files["gif_big_table.gif"] = gif((64, 48), [dict(x=0, y=0, idx=np.tile(np.arange(64) // 16, (48, 1)), min_bits=2)], pal8[:4], bits=2)
    files["gif_noise_table_full.gif"] = gif((90, 70), [dict(x=0, y=0, idx=idx(70, 90, 256), min_bits=8)], rng.integers(0, 256, size=(256, 3)), bits=8)
    full = lzw(idx(6, 10).reshape(-1), 4)
    files["gif_early_eoi.gif"] = gif((10, 6), [dict(x=0, y=0, idx=idx(6, 10), raw=lzw(idx(3, 10).reshape(-1), 4))], pal8)
    files["gif_end_code_midway.gif"] = gif((10, 6), [dict(x=0, y=0, idx=idx(6, 10), raw=lzw(idx(6, 10).reshape(-1), 4, end_after=20))], pal8)
    files["gif_empty_block_midway.gif"] = gif((10, 6), [dict(x=0, y=0, idx=idx(6, 10), block=7, empty_at=2)], pal8)
    files["gif_truncated.gif"] = gif((10, 6), [dict(x=0, y=0, idx=idx(6, 10), raw=full)], pal8)[:-12]
    files["gif_no_image.gif"] = b"GIF89a" + struct.pack("<HHBBB", 4, 4, 0, 0, 0) + b";"
    files["gif_bomb.gif"] = gif((65535, 65535), [dict(x=0, y=0, idx=idx(2, 2))], pal8)


# ---------------------------------------------------------------------------------------------- BMP
def bmp(w, h, bits, pixel_rows, palette=None, header=40, compression=0, masks=None, top_down=False,
        colors=None, pal_entry=4):
    """pixel_rows: bytes of the pixel data exactly as stored."""
    pal = b""
    if palette is not None:
        for r, g, b in palette:
            pal += bytes([b, g, r]) + (b"\0" if pal_entry == 4 else b"")
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        hh = (-h) & 0xFFFFFFFF if top_down else h
        ncol = len(palette) if colors is None and palette is not None else (colors or 0)
        info = struct.pack("<IIIHHIIiiII", header, w, hh, 1, bits, compression, len(pixel_rows), 2835, 2835, ncol, 0)
        if header > 40:
            m = masks or (0, 0, 0, 0)
            info += struct.pack("<IIII", *m) + b"\0" * (header - 56)
        elif masks is not None:
            pal = struct.pack("<III", *masks[:3]) + pal
    off = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", off + len(pixel_rows), 0, 0, off) + info + pal + pixel_rows


def rows_bytes(rows, stride):
    return b"".join(r + b"\0" * (stride - len(r)) for r in rows)


def add_bmp():
    files["bmp_rgb24_pil.bmp"] = pil_save(Image.fromarray(scene(13, 21)), "BMP")
    files["bmp_rgba32_pil.bmp"] = pil_save(Image.fromarray(noise(13, 21, 4), "RGBA"), "BMP")
    files["bmp_p8_pil.bmp"] = pil_save(Image.fromarray(scene(13, 21)).quantize(20), "BMP")
    files["bmp_l8_pil.bmp"] = pil_save(Image.fromarray(noise(13, 21, 1)[..., 0], "L"), "BMP")
    files["bmp_1bit_pil.bmp"] = pil_save(Image.fromarray(noise(13, 21, 1)[..., 0]).convert("1"), "BMP")
    w, h = 7, 5
    pal5 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(5)]
    p4 = rng.integers(0, 16, size=(h, w))
    rows4 = [bytes((int(r[i]) << 4) | (int(r[i + 1]) if i + 1 < w else 0) for i in range(0, w, 2)) for r in p4]
    files["bmp_p4_short_palette.bmp"] = bmp(w, h, 4, rows_bytes(rows4, 4), pal5)
    files["bmp_os2_p8.bmp"] = bmp(w, h, 8, rows_bytes([bytes(int(v) for v in r) for r in rng.integers(0, 5, size=(h, w))], 8), pal5, header=12, pal_entry=3)
    v16 = rng.integers(0, 65536, size=(h, w))
    rows16 = [b"".join(struct.pack("<H", int(v)) for v in r) for r in v16]
    files["bmp_rgb555.bmp"] = bmp(w, h, 16, rows_bytes(rows16, 16))
    files["bmp_rgb565_bitfields.bmp"] = bmp(w, h, 16, rows_bytes(rows16, 16), compression=3, masks=(0xF800, 0x7E0, 0x1F))
    rows32 = [bytes(int(v) for v in r.reshape(-1)) for r in noise(h, w, 4)]
    files["bmp_xbgr_v4.bmp"] = bmp(w, h, 32, rows_bytes(rows32, 28), header=108, compression=3, masks=(0xFF000000, 0xFF0000, 0xFF00, 0))
    files["bmp_rgba_v5.bmp"] = bmp(w, h, 32, rows_bytes(rows32, 28), header=124, compression=3, masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000))
    rows24 = [bytes(int(v) for v in r.reshape(-1)) for r in noise(h, w, 3)]
    files["bmp_rgb24_topdown.bmp"] = bmp(w, h, 24, rows_bytes(rows24, 24), top_down=True)
    files["bmp_rgb24_no_last_pad.bmp"] = bmp(w, h, 24, rows_bytes(rows24, 24)[:-3])
    # RLE8: runs, a literal run, end-of-line, a delta escape and end-of-bitmap (8 x 4 image)
    rle8 = bytes([3, 1, 5, 2, 0, 0,      # row 0: 1 1 1 2 2 2 2 2
                  0, 3, 4, 0, 3, 0,      # row 1: literal 4 0 3 (+ pad), then EOL pads
                  0, 0,
                  8, 4, 2, 3,            # row 2: 4 x8, row 3 starts with 3 3
                  0, 2, 9, 9, 1, 0,      # "2 3" is clipped (x is still 8); delta skips "9 9", right=1
                  7, 1, 0, 1])
    files["bmp_rle8.bmp"] = bmp(8, 4, 8, rle8, pal5, compression=1)
    rle4 = bytes([5, 0x12, 0, 3, 0x34, 0x21, 0, 0,  # row 0: 1 2 1 2 1, literal "3 4" (odd count 3)
                  0, 0, 7, 0x40, 0, 0, 7, 0x31, 0, 1])
    files["bmp_rle4.bmp"] = bmp(7, 3, 4, rle4, pal5, compression=2)
    files["bmp_rle8_short.bmp"] = bmp(8, 4, 8, bytes([8, 1, 0, 1]), pal5, compression=1)
    good = files["bmp_rgb24_pil.bmp"]
    files["bmp_truncated.bmp"] = good[: len(good) - 40]
    files["bmp_bomb.bmp"] = bmp(60000, 60000, 24, b"\0" * 64)
    files["bmp_bad_bitfields.bmp"] = bmp(w, h, 32, rows_bytes(rows32, 28), header=108, compression=3, masks=(0xF00, 0xF0, 0xF, 0))


# ------------------------------------------------------------------------------------------- resize
RESIZE_SIZES = [(41, 29), (41, 60), (80, 29), (1, 1), (1, 29), (41, 1), (1, 100), (100, 1), (7, 5), (13, 9),
                (20, 14), (40, 28), (42, 30), (82, 58), (123, 87), (300, 200), (5, 200), (200, 5), (29, 41),
                (17, 83), (14, 14), (28, 14), (3, 2)]
PATTERN_CASES = [(3840, 2160, 1918, 1078), (3840, 2160, 448, 252), (1920, 1080, 1918, 1078),
                 (1000, 3, 333, 7), (97, 131, 1001, 999)]


def pattern(w, h):
    """Same formula as the C++ test: ((x * 31 + y * 17 + c * 101) ^ ((x * y) >> 3)) & 255."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    return np.stack([((x * 31 + y * 17 + c * 101) ^ ((x * y) >> 3)) & 255 for c in range(3)], -1).astype(np.uint8)


def main():
    add_png()
    add_jpeg()
    add_webp()
    add_gif()
    add_bmp()
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    lines = []
    for name in sorted(files):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(files[name])
        try:
            im = Image.open(io.BytesIO(files[name])).convert("RGB")
            lines.append(f"decode {name} {im.width} {im.height} {fnv(im.tobytes())}")
        except Exception as e:  # noqa: BLE001 - any Pillow failure is an expected error
            lines.append(f"decode {name} error")
            print(f"{name}: Pillow raises {type(e).__name__}: {e}", file=sys.stderr)
    for src in ["png_noise_41x29.png", "png_rgb8.png"]:
        im = Image.open(os.path.join(OUT, src)).convert("RGB")
        for w, h in RESIZE_SIZES:
            lines.append(f"resize {src} {w} {h} {fnv(im.resize((w, h), Image.BICUBIC).tobytes())}")
    for sw, sh, w, h in PATTERN_CASES:
        im = Image.fromarray(pattern(sw, sh))
        lines.append(f"pattern {sw} {sh} {w} {h} {fnv(im.resize((w, h), Image.BICUBIC).tobytes())}")
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(files)} files and {len(lines)} manifest lines to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
