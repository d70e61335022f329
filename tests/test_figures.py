"""Every figure builds from tiny inputs under the Agg backend."""

import pytest

pytest.importorskip("matplotlib")

from figures.__main__ import build, figure_modules


@pytest.mark.parametrize("module", figure_modules(), ids=lambda m: m.__name__)
def test_figure_builds(module, tmp_path):
    tiny = getattr(module, "TINY", None)
    if tiny is None:
        pytest.fail(f"{module.__name__} must define TINY results for this test")
    import json

    (tmp_path / f"{module.__name__.rsplit('.', 1)[-1]}.json").write_text(json.dumps(tiny))
    paths = build(module, tmp_path, quick=True)
    assert all(p.stat().st_size > 0 for p in paths)
