"""Named queries: typed, parameterised operations a DBA writes in the schema docs.

    docs.py      the `queries:` YAML format (pydantic)
    values.py    one parameter value: JSON in, bind value out, or what is allowed
    compile.py   at start: :name → $n, the guard, the settings → NamedQueries
    answer.py    one named query's way, whatever protocol asked (validate → bind → run)
    spec.py      JSON Schema of the parameters and the OpenAPI operations
    check.py     `sqlgateway queries check`: prepare and EXPLAIN each against a database
    cli.py       `sqlgateway queries list|check`

Nothing is imported here, so that `catalog.schema_docs` can use `named.docs` alone.
"""
