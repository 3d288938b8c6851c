#!/usr/bin/env python3
"""Draws samples of a space-group data set (from `magmadnn spacegroup generate`, a folder of .npy
files) as one greyscale PNG: a row per sample, its six layers hk0, hk1, h0l, h1l, 0kl, 1kl left to
right. Standard library only. Usage: spacegroup-preview.py DATA_DIR OUT.png ROW[,ROW...] [--scale K]"""
import argparse
import ast
import struct
import sys
import zlib


def load_npy(path):
    data = open(path, "rb").read()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: not a .npy file")
    major = data[6]
    hlen = struct.unpack("<H" if major == 1 else "<I", data[8:10] if major == 1 else data[8:12])[0]
    start = (10 if major == 1 else 12) + hlen
    header = ast.literal_eval(data[(10 if major == 1 else 12):start].decode("latin1"))
    return header, data[start:]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("rows")
    p.add_argument("--scale", type=int, default=3)
    a = p.parse_args()
    header, images = load_npy(a.data + "/images.npy")
    gheader, groups = load_npy(a.data + "/space_groups.npy")
    n, channels, size, _ = header["shape"]
    item = 8 if gheader["descr"].endswith("8") else 4
    rows = [int(r) for r in a.rows.split(",")]
    for r in rows:
        if not 0 <= r < n:
            sys.exit(f"row {r} outside 0..{n - 1}")
    k, gap = a.scale, 2
    width = channels * (size + gap) * k
    height = len(rows) * (size + gap) * k
    pixels = bytearray(width * height)
    per = channels * size * size
    for i, r in enumerate(rows):
        number = int.from_bytes(groups[r * item:(r + 1) * item], "little", signed=True)
        print(f"row {i}: sample {r}, space group {number}")
        for c in range(channels):
            for y in range(size):
                for x in range(size):
                    v = images[r * per + (c * size + y) * size + x]
                    for dy in range(k):
                        base = ((i * (size + gap) + y) * k + dy) * width + (c * (size + gap) + x) * k
                        pixels[base:base + k] = bytes([v]) * k
    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    open(a.out, "wb").write(png)


if __name__ == "__main__":
    main()
