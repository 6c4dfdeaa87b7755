// node fixture-server.mjs PORT
//
// An MCP server (TypeScript SDK, Streamable HTTP, stateful) offering exactly the tools,
// resources and prompts the conformance suite's server scenarios ask for, written from
// the "Server Implementation Requirements" in each scenario's description. Run behind
// Gatehouse it separates the suite's fixture expectations from Gatehouse's behaviour:
// a scenario that passes against this server directly and fails through Gatehouse is
// Gatehouse's. Listens on 127.0.0.1 only.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

// A 1×1 PNG and a 44-byte silent WAV header, base64.
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const noArgs = { type: 'object', properties: {} };
const text = (value) => ({ type: 'text', text: value });

const tools = [
  {
    name: 'test_simple_text',
    run: async () => [text('This is a simple text response for testing.')],
  },
  {
    name: 'test_image_content',
    run: async () => [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  },
  {
    name: 'test_audio_content',
    run: async () => [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  },
  {
    name: 'test_embedded_resource',
    run: async () => [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  },
  {
    name: 'test_multiple_content_types',
    run: async () => [
      text('Multiple content types test:'),
      { type: 'image', data: PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    ],
  },
  {
    name: 'test_tool_with_logging',
    run: async (_args, extra) => {
      for (const [index, message] of [
        'Tool execution started',
        'Tool processing data',
        'Tool execution completed',
      ].entries()) {
        if (index > 0) await sleep(50);
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data: message },
        });
      }
      return [text('Tool with logging executed')];
    },
  },
  {
    name: 'test_error_handling',
    run: async () => {
      throw new Error('This tool intentionally returns an error for testing');
    },
  },
  {
    name: 'test_tool_with_progress',
    run: async (_args, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await sleep(50);
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100 },
          });
        }
      }
      return [text('Tool with progress executed')];
    },
  },
  {
    name: 'test_sampling',
    inputSchema: {
      type: 'object',
      properties: { prompt: { type: 'string' } },
      required: ['prompt'],
    },
    run: async (args, extra) => {
      const reply = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: text(args.prompt) }], maxTokens: 100 },
        },
        CreateMessageResultSchema,
      );
      return [text(`LLM response: ${reply.content?.text ?? JSON.stringify(reply.content)}`)];
    },
  },
  {
    name: 'test_elicitation',
    inputSchema: {
      type: 'object',
      properties: { message: { type: 'string' } },
      required: ['message'],
    },
    run: async (args, extra) => {
      const schema = {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      };
      const reply = await elicit(extra, args.message, schema);
      return [text(`User response: ${outcome(reply)}`)];
    },
  },
  {
    name: 'test_elicitation_sep1034_defaults',
    run: async (_args, extra) => {
      const schema = {
        type: 'object',
        properties: {
          name: { type: 'string', default: 'John Doe' },
          age: { type: 'integer', default: 30 },
          score: { type: 'number', default: 95.5 },
          status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
          verified: { type: 'boolean', default: true },
        },
      };
      const reply = await elicit(extra, 'Please review the defaults', schema);
      return [text(`Elicitation completed: ${outcome(reply)}`)];
    },
  },
  {
    name: 'test_elicitation_sep1330_enums',
    run: async (_args, extra) => {
      const choices = (prefix, names) =>
        names.map((title, index) => ({ const: `${prefix}${index + 1}`, title }));
      const schema = {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            oneOf: choices('value', ['First Option', 'Second Option', 'Third Option']),
          },
          legacyEnum: {
            type: 'string',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            items: { anyOf: choices('value', ['First Choice', 'Second Choice', 'Third Choice']) },
          },
        },
      };
      const reply = await elicit(extra, 'Please pick', schema);
      return [text(`Elicitation completed: ${outcome(reply)}`)];
    },
  },
];

// Listed only (the scenario checks that the listing keeps 2020-12 keywords).
const schemaTool = {
  name: 'json_schema_2020_12_tool',
  description: 'Tool with JSON Schema 2020-12 features',
  inputSchema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: {
      address: {
        type: 'object',
        properties: { street: { type: 'string' }, city: { type: 'string' } },
      },
    },
    properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
    additionalProperties: false,
  },
};

// An elicitation's answer, as the scenarios' "action=…, content=…".
function outcome(reply) {
  return `action=${reply.action}, content=${JSON.stringify(reply.content ?? {})}`;
}

function elicit(extra, message, requestedSchema) {
  return extra.sendRequest(
    { method: 'elicitation/create', params: { message, requestedSchema } },
    ElicitResultSchema,
  );
}

const resources = {
  'test://static-text': {
    mimeType: 'text/plain',
    text: 'This is the content of the static text resource.',
  },
  'test://static-binary': { mimeType: 'image/png', blob: PNG },
  'test://watched-resource': {
    mimeType: 'text/plain',
    text: 'A resource clients may subscribe to.',
  },
};

const prompts = {
  test_simple_prompt: {
    arguments: [],
    messages: () => [{ role: 'user', content: text('This is a simple prompt for testing.') }],
  },
  test_prompt_with_arguments: {
    arguments: [
      { name: 'arg1', description: 'First test argument', required: true },
      { name: 'arg2', description: 'Second test argument', required: true },
    ],
    messages: (args) => [
      {
        role: 'user',
        content: text(`Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`),
      },
    ],
  },
  test_prompt_with_embedded_resource: {
    arguments: [
      { name: 'resourceUri', description: 'URI of the resource to embed', required: true },
    ],
    messages: (args) => [
      {
        role: 'user',
        content: {
          type: 'resource',
          resource: {
            uri: args.resourceUri,
            mimeType: 'text/plain',
            text: 'Embedded resource content for testing.',
          },
        },
      },
      { role: 'user', content: text('Please process the embedded resource above.') },
    ],
  },
  test_prompt_with_image: {
    arguments: [],
    messages: () => [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: text('Please analyze the image above.') },
    ],
  },
};

function newServer() {
  const server = new Server(
    { name: 'gatehouse-conformance-fixture', version: '1.0.0' },
    {
      capabilities: {
        tools: {},
        resources: { subscribe: true },
        prompts: {},
        logging: {},
        completions: {},
      },
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      ...tools.map(({ name, inputSchema }) => ({
        name,
        description: `Conformance fixture ${name}`,
        inputSchema: inputSchema ?? noArgs,
      })),
      schemaTool,
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools.find((candidate) => candidate.name === request.params.name);
    if (!tool) throw new McpError(-32602, `Unknown tool: ${request.params.name}`);
    try {
      return {
        content: await tool.run(request.params.arguments ?? {}, {
          ...extra,
          _meta: request.params._meta,
        }),
      };
    } catch (error) {
      return { isError: true, content: [text(error.message)] };
    }
  });
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: Object.entries(resources).map(([uri, { mimeType }]) => ({
      uri,
      name: uri.slice('test://'.length),
      description: `Conformance fixture ${uri}`,
      mimeType,
    })),
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      {
        uriTemplate: 'test://template/{id}/data',
        name: 'template',
        description: 'Data by id',
        mimeType: 'application/json',
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const templated = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
    if (templated) {
      const id = templated[1];
      const body = JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` });
      return { contents: [{ uri, mimeType: 'application/json', text: body }] };
    }
    const resource = resources[uri];
    if (!resource) throw new McpError(-32002, `Resource not found: ${uri}`);
    return { contents: [{ uri, ...resource }] };
  });
  server.setRequestHandler(SubscribeRequestSchema, async () => ({}));
  server.setRequestHandler(UnsubscribeRequestSchema, async () => ({}));
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: Object.entries(prompts).map(([name, prompt]) => ({
      name,
      description: `Conformance fixture ${name}`,
      arguments: prompt.arguments,
    })),
  }));
  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const prompt = prompts[request.params.name];
    if (!prompt) throw new McpError(-32602, `Unknown prompt: ${request.params.name}`);
    return { messages: prompt.messages(request.params.arguments ?? {}) };
  });
  server.setRequestHandler(CompleteRequestSchema, async (request) => {
    const typed = request.params.argument?.value ?? '';
    const values = ['paris', 'park', 'party'].filter((value) => value.startsWith(typed));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  server.setRequestHandler(SetLevelRequestSchema, async () => ({}));
  return server;
}

const sessions = new Map();

async function handle(request, response) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString();
  let body;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    response.writeHead(400, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }),
    );
    return;
  }
  const id = request.headers['mcp-session-id'];
  let transport = id ? sessions.get(id) : undefined;
  if (!transport) {
    if (id || request.method !== 'POST' || body?.method !== 'initialize') {
      response.writeHead(id ? 404 : 400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32000, message: 'No valid session' },
        }),
      );
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableDnsRebindingProtection: true,
      allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`],
      allowedOrigins: [`http://127.0.0.1:${port}`, `http://localhost:${port}`],
      onsessioninitialized: (session) => sessions.set(session, transport),
    });
    transport.onclose = () => sessions.delete(transport.sessionId);
    await newServer().connect(transport);
  }
  await transport.handleRequest(request, response, body);
}

const port = Number(process.argv[2]);
http
  .createServer((request, response) => {
    handle(request, response).catch((error) => {
      if (!response.headersSent) response.writeHead(500);
      response.end(String(error));
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`fixture: http://127.0.0.1:${port}/mcp`));
