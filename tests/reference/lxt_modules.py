"""LXT (rachtibat/LRP-eXplains-Transformers, a peer: $PEERS_DIR/lxt from ../shared/peers/setup_peers.sh with
LXT_GIT) without its package __init__ files: lxt.efficient.models imports Hugging Face transformers, which
Debian lacks. The three packages become empty modules whose __path__ is their directory, so that the
submodules (rules, patches, zennit_patches, models.vit_torch) import from their files as usual. Used by
make_vit_fixtures.py and bench/peer_bench.py."""
import importlib
import os
import sys
import types


def import_lxt(peers_dir):
    """{'rules', 'patches', 'zennit_patches', 'models.vit_torch': module, 'commit': LXT's pinned commit}"""
    base = os.path.join(peers_dir, 'lxt', 'lxt')
    for name, path in (('lxt', base), ('lxt.efficient', os.path.join(base, 'efficient')),
                       ('lxt.efficient.models', os.path.join(base, 'efficient', 'models'))):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [path]
            sys.modules[name] = m
    mods = {n: importlib.import_module('lxt.efficient.' + n)
            for n in ('rules', 'patches', 'zennit_patches', 'models.vit_torch')}
    with open(os.path.join(peers_dir, 'lxt', 'PEER_COMMIT')) as f:
        mods['commit'] = f.read().strip()
    return mods
