"""What every room shares, vendor-neutral: time semantics, the parser of rendered template values, HTTP retry
rules, connection extras, the Arrow field metadata contract."""
