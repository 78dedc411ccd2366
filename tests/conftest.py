import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent / "bench"))     # torch_peers.py: torch ports some tests check against
SHARED = (HERE.parent.parent / "shared").resolve()


@pytest.fixture
def shared():
    """Path of ../shared; skips the test with a clear reason when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED} (data, weights and refs live there)")
    return SHARED
