// An independent MCP client: the TypeScript SDK's, as Claude, Cursor and VS Code use it.
// Connects to sqlgateway over Streamable HTTP or stdio, runs the checks of
// tests/integration/mcp/test_mcp_node_client.py and prints what it saw as one JSON object.
//
//   node client.mjs http <base URL> <API key>
//   node client.mjs stdio <python> <database URL>
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [kind, first, second] = process.argv.slice(2);

function transport() {
  if (kind === "http") {
    return new StreamableHTTPClientTransport(new URL(`${first}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${second}` } },
    });
  }
  if (kind === "stdio") {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("SQLGATEWAY_TEST_")),
    );
    return new StdioClientTransport({
      command: first,
      args: ["-m", "sqlgateway", "mcp", "--database-url", second],
      env,
      stderr: "ignore",
    });
  }
  throw new Error(`unknown transport ${kind}`);
}

const client = new Client({ name: "sqlgateway-node-test", version: "1.0.0" });
await client.connect(transport());
const call = (sql, extra = {}) =>
  client.callTool({ name: "run_query", arguments: { sql, ...extra } });

const listed = await client.listTools();
const demo = await call("SELECT status, count(*) AS n FROM claims GROUP BY status ORDER BY status");
const refused = await call("DELETE FROM claims");
const truncated = await call("SELECT claim_id FROM claims ORDER BY claim_id", { max_rows: 2 });
const schema = await client.callTool({ name: "get_schema", arguments: { table: "claims" } });

console.log(
  JSON.stringify({
    protocolVersion: client.transport?.protocolVersion ?? null,
    server: client.getServerVersion(),
    tools: listed.tools.map((tool) => ({
      name: tool.name,
      annotations: tool.annotations,
      hasOutputSchema: Boolean(tool.outputSchema),
    })),
    demo: { isError: demo.isError ?? false, structured: demo.structuredContent, text: demo.content[0].text },
    refused: { isError: refused.isError, structured: refused.structuredContent, text: refused.content[0].text },
    truncated: { structured: truncated.structuredContent, text: truncated.content[0].text },
    schema: { isError: schema.isError ?? false, table: schema.structuredContent?.table?.name },
  }),
);
await client.close();
