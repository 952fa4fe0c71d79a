"""pyvz's benchmark kit: small modules, one job each (see bench/README.md).

``bench/run.py`` is the entry point; these modules are imported from it (``bench/`` is the
script's directory, so ``benchkit`` is importable without installing anything).
"""
