"""Supervised fine-tuning for the retraining job Azure ML starts on a failed quality gate."""
