"""The package's version: the compiler's (XAIC_VERSION in compiler/tools/cli.h; a test checks they agree)."""
__version__ = "0.1.0"
