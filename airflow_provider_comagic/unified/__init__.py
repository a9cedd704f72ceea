"""One call table for every vendor: the schema, and one mapping module per vendor."""
