"""Numbered conv2d kernel variants tried on the way to kernels/cpu/conv2d*.py (STYLE.md item 5: variants live in
bench/, winners in kernels/). Each module's docstring starts with one line: what it does and the GFLOP/s it
measured; `case(cin, cout)` returns (run, flops, check) for bench/conv2d_variants.py."""
