"""Fixtures of the catalog tests: the fixture sector (``sector_dir``) and its helper module
(``tasoc_tests_sector_fixture``) come from ``tasoc_core/tests/conftest.py``."""
