"""Triggers run by the triggerer: quota resets and uploaded-call polling."""
