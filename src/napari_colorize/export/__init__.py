"""Export models as bioimage.io packages (:func:`export_bioimageio`), and read them back."""
