"""Training (PyTorch, the `train` extra): `pysr train` and its parts.

    data.py          training pairs from image folders and videos; bicubic / blur / h264 degradations
    torch_models.py  torch twins of pysr's architectures (one table) and `export` to a .pysr Model
    loop.py          loss, Adam, schedule, checkpoints with exact resume, validation, export

Nothing here imports torch at import time; `pysr train` says how to install it when it is missing.
"""
