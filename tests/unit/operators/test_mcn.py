"""Parse-time validation of McnCallLogOperator."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.operators.mcn import McnCallLogOperator


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_format": "csv"}, "output_format"),
        ({"output_schema": "wide"}, "output_schema"),
        ({"timestamps": "local"}, "timestamps"),
        ({"chunk_days": 0}, "chunk_days"),
        ({"chunk_days": 32}, "chunk_days"),
        ({"chunk_days": "7"}, "chunk_days"),
    ],
)
def test_mcn_operator_rejects_bad_arguments_at_parse_time(kwargs, message):
    with pytest.raises(McnParameterError, match=message):
        McnCallLogOperator(task_id="t", output_path="/tmp/x", **kwargs)


def test_mcn_operator_defers_templated_values_and_templates_its_ids():
    op = McnCallLogOperator(
        task_id="t", output_path="/tmp/x", output_format="{{ var.value.fmt }}", output_schema="{{ params.s }}"
    )
    assert {"vpbx_id", "account_id", "date_from", "date_till", "output_schema"} <= set(op.template_fields)
    op.output_format = "xml"
    with pytest.raises(McnParameterError, match="output_format"):
        op._validate(rendered=True)
