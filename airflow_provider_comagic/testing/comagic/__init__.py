"""The CoMagic Data API emulator: dispatcher, data, queries and filters, quota, tokens, partner mode, uploads."""
