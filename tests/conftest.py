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


@pytest.fixture(scope="session")
def native(tmp_path_factory):
    """libpysr built and installed once per test run (tests/test_native_lib.py `built`), for every test of the C API
    (a module may define its own `native`, as test_native_backend.py does for the Python module)."""
    from test_native_lib import built

    return built(tmp_path_factory)


@pytest.fixture(scope="session")
def lib(native):
    """The C API of that build through ctypes (tests/test_native_lib.py `Lib`)."""
    from test_native_lib import Lib

    return Lib(native["lib"])
