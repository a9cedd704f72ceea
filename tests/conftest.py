pytest_plugins = [
    "airflow_provider_comagic.testing.pytest_plugin",
    "tests.fixtures.s3",  # s3_server, s3_conn, s3_bucket: moto's S3 server on 127.0.0.1
    "tests.fixtures.loaders",  # emu: the warehouse loaders' emulator (frozen clock)
]
