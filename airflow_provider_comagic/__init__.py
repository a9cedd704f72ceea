"""Apache Airflow provider for the CoMagic / UIS call-tracking Data API."""

__version__ = "0.1.0"
