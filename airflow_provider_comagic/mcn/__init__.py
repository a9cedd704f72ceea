"""The MCN Telecom vPBX API, without Airflow tasks: connection config, call-log rules, its own error taxonomy."""
