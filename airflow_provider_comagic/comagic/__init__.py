"""The CoMagic / UIS Data API, without Airflow tasks: catalogue, errors, JSON-RPC protocol, paging engine, quota,
session rules, connection config, agency clients, Arrow schemas, upload rules."""
