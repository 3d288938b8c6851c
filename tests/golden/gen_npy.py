# Writes the tiny NumPy fixtures in tests/data/npy/ that tests/io/test_numpy.cpp reads: np.save in
# several dtypes and format versions, np.savez (stored, zip64 extras) and np.savez_compressed.
# Run: /usr/bin/python3 tests/golden/gen_npy.py  (numpy only; the fixtures are committed).
import os
import numpy as np
from numpy.lib import format as npf

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "npy")
os.makedirs(out, exist_ok=True)

arrays = {
    "i1": np.array([[-128, -1, 0], [1, 2, 127]], dtype=np.int8),
    "u1": np.array([0, 7, 255], dtype=np.uint8),
    "i4": np.array([[-2147483648], [5], [2147483647]], dtype=np.int32),
    "i8": np.array([-(1 << 40), 0, 3], dtype=np.int64),
    "f4": np.array([[1.5, -2.25], [3.0, 1e-3]], dtype=np.float32),
    "f8": np.array([np.pi, -np.e, 0.0, 1e300], dtype=np.float64),
    "b1": np.array([True, False, True], dtype=np.bool_),
    "scalar": np.array(2.5, dtype=np.float64),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
for name, a in arrays.items():
    np.save(os.path.join(out, name + ".npy"), a)

# Format versions 2.0 and 3.0 (same payload as f8).
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(out, "f8_v%d.npy" % version[0]), "wb") as f:
        npf.write_array(f, arrays["f8"], version=version)

# Unsupported on purpose: fortran order, big-endian, object dtype.
with open(os.path.join(out, "fortran.npy"), "wb") as f:
    npf.write_array(f, np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(os.path.join(out, "big_endian.npy"), np.array([1, 2], dtype=">i4"))
np.save(os.path.join(out, "object.npy"), np.array([1, "a"], dtype=object), allow_pickle=True)

spins = np.array([[[1, -1], [-1, 1]], [[1, 1], [1, 1]]], dtype=np.int8)
energies = np.array([8.0, -8.0])
np.savez(os.path.join(out, "stored.npz"), spins=spins, energies=energies)
np.savez_compressed(os.path.join(out, "compressed.npz"), spins=spins, energies=energies,
                    ramp=np.arange(100, dtype=np.int64))


# Written to a stream that cannot seek: zipfile then puts sizes and CRC in data descriptors
# after each entry (flag bit 3) and zeros in the local headers.
import io


class NoSeek(io.RawIOBase):
    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)

    def seekable(self):
        return False

    def tell(self):
        raise OSError("not seekable")


with open(os.path.join(out, "descriptor.npz"), "wb") as f:
    np.savez_compressed(NoSeek(f), spins=spins, energies=energies)
print("wrote", sorted(os.listdir(out)))
