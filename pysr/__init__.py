"""pysr: real-time video super-resolution on a hand-written inference engine.

    import pysr
    model = pysr.load("model.pysr")
    hr = pysr.run(frame, model=model)          # H×W×3 uint8 RGB -> upscaled uint8 RGB
"""

from pysr.api import run, run_y
from pysr.errors import PysrError
from pysr.model import Model, load

__version__ = "0.1.0"
__all__ = ["Model", "PysrError", "load", "run", "run_y", "__version__"]
