"""Training: train, tune and evaluate models; recipes that regenerate the bundled ones."""
