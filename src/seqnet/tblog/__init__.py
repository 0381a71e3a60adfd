"""TensorBoard: the run's writer, its hyperparameters (HPARAMS), the gradient views, and the
progress bar."""
