"""Minimal .npy writer/reader for the dlc run tests (no numpy needed).

  python3 npy.py write FILE DESCR SHAPE VALUES   e.g. write x.npy '<f4' 2,3 1,2,3,4,5,6
  python3 npy.py dump FILE                       prints: DESCR SHAPE v0 v1 ...
SHAPE is comma-separated ('' for a scalar); VALUES likewise.
"""
import ast
import struct
import sys

FMT = {'<f4': 'f', '<f8': 'd', '<i8': 'q', '<i4': 'i', '|b1': '?', '|u1': 'B', '|i1': 'b'}


def write(path, descr, shape, values):
    dims = tuple(int(d) for d in shape.split(',') if d)
    vals = [v for v in values.split(',') if v]
    conv = float if FMT[descr] in 'fd' else int
    data = struct.pack('<%d%s' % (len(vals), FMT[descr]), *[conv(v) for v in vals])
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(dims))
    total = 10 + len(header) + 1
    header += ' ' * ((64 - total % 64) % 64) + '\n'
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode('latin1') + data)


def dump(path):
    raw = open(path, 'rb').read()
    assert raw[:6] == b'\x93NUMPY', 'bad magic'
    hlen = struct.unpack('<H', raw[8:10])[0]
    meta = ast.literal_eval(raw[10:10 + hlen].decode('latin1'))
    n = 1
    for d in meta['shape']:
        n *= d
    vals = struct.unpack('<%d%s' % (n, FMT[meta['descr']]), raw[10 + hlen:])
    shape = ','.join(str(d) for d in meta['shape'])
    print(meta['descr'], '[' + shape + ']', ' '.join('%g' % v for v in vals))


if __name__ == '__main__':
    if sys.argv[1] == 'write':
        write(*sys.argv[2:6])
    else:
        dump(sys.argv[2])
