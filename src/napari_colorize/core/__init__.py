"""The engine and its parts: tiling, blending, colour, intensity, outputs (no napari, no Qt)."""
