"""Reading and writing images: lazy readers, OME-Zarr, TIFF and PNG writers, NGFF metadata."""
