"""Key material for the bundle tests: one deployment per module, a stranger's beside it."""

from __future__ import annotations

import pytest

from tests.bundle.keys import Keys, make_keys


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    keys = make_keys(tmp_path_factory.mktemp("pki"))
    from broker.pki import issue

    issue(keys.directory, "gw-002")
    return keys


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("other-pki"))
