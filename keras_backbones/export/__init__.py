"""Deployment: TFLite conversion (and, later, TF Serving SavedModels and TFMOT)."""
