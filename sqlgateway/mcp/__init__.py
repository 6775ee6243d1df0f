"""The MCP front end: the same query path as the REST API, spoken as the Model Context
Protocol (docs/mcp.md).

    tools       the tools: the served spec's operations (run_query, get_schema, named queries)
    render      their answers: structured content plus text with database content fenced (pure)
    server      the official SDK's Server with those tools, for either transport
    streamable  POST /mcp: stateless Streamable HTTP framing around the SDK's kernel
    stdio       `sqlgateway mcp`: the SDK's stdio transport, one audit event per tool call
    cli         the `mcp` command
"""
