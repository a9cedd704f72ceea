"""ComagicCustomerUsersOperator arguments (no server): template fields, customer ids."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.operators.customers import ComagicCustomerUsersOperator
from airflow_provider_comagic.utils.templating import parse_list


def test_customer_users_operator_template_fields():
    op = ComagicCustomerUsersOperator(task_id="u", customer_ids="{{ params.ids }}", name_pattern="Acme*")
    assert set(op.template_fields) == {"customer_ids", "name_pattern"} and op.one_per_customer is True
    with pytest.raises(ComagicParameterError, match="customer_ids must be integers"):
        parse_list("a,b", "customer_ids", item=int, error=ComagicParameterError)


@pytest.mark.parametrize("group_size", [0, -1, 2.5, "10", True])
def test_group_size_must_be_a_positive_integer(group_size):
    with pytest.raises(ComagicParameterError, match="group_size must be a positive integer"):
        ComagicCustomerUsersOperator(task_id="u", group_size=group_size)
