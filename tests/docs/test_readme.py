"""The README says what works today (issue 21 #9)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.plugins.magento.conftest import DEFAULT_SCHEMA as MAGENTO_SCHEMA
from tests.plugins.magento.conftest import SCHEMA_ENV as MAGENTO_ENV
from tests.plugins.shopify.conftest import DEFAULT_SCHEMA as SHOPIFY_SCHEMA
from tests.plugins.shopify.conftest import SCHEMA_ENV as SHOPIFY_ENV

README = Path(__file__).resolve().parents[2] / "README.md"


def test_no_install_from_an_index_that_does_not_have_it_yet():
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"pip install ['\"]?serialsync(\[[a-z,]+\])?['\"]?(\s|$)", text)
    assert "pip install -e . && serialsync demo" in text  # the first command stays


def test_the_readme_names_what_the_tests_read_from_shared_and_what_is_skipped():
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "../shared/contracts/" in text and "skipped" in text
    for path, env in ((SHOPIFY_SCHEMA, SHOPIFY_ENV), (MAGENTO_SCHEMA, MAGENTO_ENV)):
        assert path.name in text and env in text
