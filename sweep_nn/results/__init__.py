"""Results: the schema, the results CSV, parameter files, queries (filter, aggregate) and evaluation."""
