#!/usr/bin/env bash
# ctest seed_notebooks: scripts/seed.sh lists the notebooks and runs three fast ones (2.4, 4.1, 5.2) with the
# compiler under test (XAIC, SEED_NO_BUILD=1: no install-deps, no build) into a temporary directory; every
# output is then checked to be a valid PNG / NPY file, and the expected files to exist.
#   bash tests/seed/test_seed.sh PATH/TO/xaic
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
xaic=${1:?usage: test_seed.sh XAIC}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_seed: FAIL: $*" >&2; exit 1; }

list=$(bash "$root/scripts/seed.sh" list)
for n in 1.1 1.3 2.1 2.2 2.3 2.4 2.5 3.1 3.2 3.3 3.4 3.5 4.1 4.2 4.3 5.1 5.2; do
  grep -q "^$n " <<<"$list" || fail "seed.sh list lacks $n"
done
bash "$root/scripts/seed.sh" 9.9 >/dev/null 2>&1 && fail "seed.sh accepted an unknown notebook"

for n in 2.4 4.1 5.2; do
  SEED_NO_BUILD=1 XAIC="$xaic" SEED_OUT="$tmp" bash "$root/scripts/seed.sh" $n >"$tmp/$n.log" 2>&1 ||
    { cat "$tmp/$n.log"; fail "seed.sh $n"; }
done
for f in 2.4/deep_taylor.png 2.4/deep_taylor.npy 4.1/cam.png 4.1/cam_map.png 4.1/cam.npy \
  5.2/selectivity/results.json 5.2/selectivity/curves.csv 5.2/selectivity/strip_deep_taylor.png; do
  [ -s "$tmp/$f" ] || fail "missing $f"
done
/usr/bin/python3 - "$tmp" <<'PY'
import glob, json, os, struct, sys, zlib
import numpy as np
tmp = sys.argv[1]
pngs = glob.glob(f'{tmp}/*/*.png') + glob.glob(f'{tmp}/*/*/*.png')
npys = glob.glob(f'{tmp}/*/*.npy') + glob.glob(f'{tmp}/*/*/*.npy')
assert len(pngs) >= 4 and len(npys) >= 3, (pngs, npys)
for p in pngs:  # signature, IHDR first, every chunk's CRC, IEND last, a plausible size
    b = open(p, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n', p
    i, types = 8, []
    while i < len(b):
        n, = struct.unpack('>I', b[i:i + 4]); t = b[i + 4:i + 8]
        assert zlib.crc32(b[i + 4:i + 8 + n]) == struct.unpack('>I', b[i + 8 + n:i + 12 + n])[0], (p, t)
        types.append(t); i += 12 + n
    assert types[0] == b'IHDR' and types[-1] == b'IEND' and b'IDAT' in types, (p, types)
    w, h = struct.unpack('>II', b[16:24])
    assert 28 <= w <= 4096 and 28 <= h <= 4096, (p, w, h)
for p in npys:
    a = np.load(p)
    assert a.size > 0 and np.isfinite(a).all(), (p, a.shape)
for p in ('2.4/deep_taylor.npy', '4.1/cam.npy'):
    a = np.load(f'{tmp}/{p}')
    assert a.dtype == np.float32 and a.shape[0] == 10 and np.abs(a).max() > 0, (p, a.dtype, a.shape)
dt = np.load(f'{tmp}/2.4/deep_taylor.npy')
assert dt.shape == (10, 1, 28, 28), dt.shape
assert np.load(f'{tmp}/4.1/cam.npy').reshape(10, -1).shape[1] in (1600, 100), 'cam shape'
res = json.load(open(f'{tmp}/5.2/selectivity/results.json'))
assert [e['name'] for e in res['explanations']] == ['sensitivity4', 'gxi', 'deep_taylor'], res['explanations']
assert all(len(e['mean_curve']) == 20 for e in res['explanations'])
assert res['options']['windows'] == 'sliding' and res['inputs'] == 10
print(f'test_seed: {len(pngs)} PNG and {len(npys)} NPY files valid')
PY
echo "test_seed: ok"
