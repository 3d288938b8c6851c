#!/usr/bin/env python3
"""Largest difference between two safetensors files holding the same float32/float64/int64
tensors (pure Python, no numpy): prints "max_rel_diff NAME VALUE" for the tensor that differs
most, |a - b| / (1 + |b|) over its elements, after checking that both files have the same names,
dtypes and shapes (exit 1 otherwise).

    safetensors_diff.py A.safetensors B.safetensors
"""
import json
import struct
import sys

FORMATS = {"F32": "f", "F64": "d", "I64": "q"}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + header_len])
    body = data[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        fmt = FORMATS.get(info["dtype"])
        if fmt is None:
            sys.exit(f"{path}: {name}: unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        count = (end - begin) // struct.calcsize(fmt)
        tensors[name] = (info["dtype"], tuple(info["shape"]), struct.unpack_from(f"<{count}{fmt}", body, begin))
    return tensors


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    if sorted(a) != sorted(b):
        sys.exit(f"different tensor names: {sorted(set(a) ^ set(b))[:5]}")
    worst_name, worst = "", 0.0
    for name, (dtype, shape, values) in a.items():
        if (dtype, shape) != b[name][:2]:
            sys.exit(f"{name}: {dtype} {shape} against {b[name][0]} {b[name][1]}")
        diff = max((abs(x - y) / (1 + abs(y)) for x, y in zip(values, b[name][2])), default=0.0)
        if diff >= worst:
            worst_name, worst = name, diff
    print(f"max_rel_diff {worst_name} {worst:.9g}")


if __name__ == "__main__":
    main()
