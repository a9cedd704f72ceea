pytest_plugins = ["airflow_provider_comagic.testing.pytest_plugin"]
