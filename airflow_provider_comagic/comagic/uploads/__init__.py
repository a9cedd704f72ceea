"""``upload.calls`` and ``get.uploaded_calls`` without I/O: validation and batching (rules), call files (files),
the status logic the sensor and the trigger share (status)."""
