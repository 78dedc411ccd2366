"""Sessions: per-stream state and frame splitting (tiling) on top of the runtime."""
