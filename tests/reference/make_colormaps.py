#!/usr/bin/python3
"""Colour maps of matplotlib (3.6.3 on Debian 12), for libxairt (docs/heatmaps.md).

    make_colormaps.py --c-table      prints runtime/colormap_viridis.inc: viridis's 256 listed colours
    make_colormaps.py --py-table     prints python/xaic/_viridis.py: the same table for xaic.heatmap
    make_colormaps.py --fixture OUT  writes the colours matplotlib draws at 101 points u in [0, 1] of each
                                     sequential map (hot, hot_r, viridis, gray) as float32 [4, 101, 3] .npy,
                                     the reference test_rt_heatmap compares xai_colormap against
"""
import sys

import numpy as np
import matplotlib
from matplotlib import colormaps
from matplotlib._cm_listed import _viridis_data

MAPS = ["hot", "hot_r", "viridis", "gray"]

if sys.argv[1:2] == ["--c-table"]:
    print(f"/* matplotlib {matplotlib.__version__}'s _viridis_data (matplotlib/_cm_listed.py; viridis is CC0, by")
    print(" * Nathaniel J. Smith and Stefan van der Walt), printed by tests/reference/make_colormaps.py --c-table. */")
    for r, g, b in _viridis_data:
        print(f"{{ {r:.6f}f, {g:.6f}f, {b:.6f}f }},")
elif sys.argv[1:2] == ["--py-table"]:
    print(f'"""matplotlib {matplotlib.__version__}\'s _viridis_data (matplotlib/_cm_listed.py; viridis is CC0), the table')
    print('runtime/colormap_viridis.inc holds; printed by tests/reference/make_colormaps.py --py-table."""')
    print("VIRIDIS = (")
    for r, g, b in _viridis_data:
        print(f"    ({r:.6f}, {g:.6f}, {b:.6f}),")
    print(")")
elif sys.argv[1:2] == ["--fixture"]:
    u = np.linspace(0.0, 1.0, 101)
    out = np.stack([colormaps[m](u)[:, :3] for m in MAPS]).astype(np.float32)
    np.save(sys.argv[2], out)
else:
    sys.exit(__doc__)
