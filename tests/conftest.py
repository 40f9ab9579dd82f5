"""The kit's own tests; shared helpers live in ``helpers.py`` (this folder is on sys.path)."""
