"""The MCN Telecom REST API emulator and its seeded call logs."""
