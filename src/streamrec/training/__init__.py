"""Training and offline evaluation: interaction matrices, splits, metrics, the evaluate job."""
