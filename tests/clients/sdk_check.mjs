// sdk_check.mjs - drives maskgate with the official Anthropic TypeScript SDK.
// Usage: node sdk_check.mjs BASE_URL API_KEY PROMPT
// Prints one JSON object: the non-streaming text, the streamed text and the
// streamed final message's usage.
import Anthropic from '@anthropic-ai/sdk';

const [baseURL, apiKey, prompt] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
const params = {
  model: 'claude-sonnet-4-5',
  max_tokens: 256,
  messages: [{ role: 'user', content: prompt }],
};

const msg = await client.messages.create(params);
const plain = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

let streamed = '';
const stream = client.messages.stream(params);
stream.on('text', (t) => { streamed += t; });
const final = await stream.finalMessage();

let errorType = null;
try {
  await new Anthropic({ baseURL, apiKey: 'sk-wrong-' + 'x'.repeat(40), maxRetries: 0 })
    .messages.create(params);
} catch (e) {
  errorType = e?.error?.error?.type ?? String(e);
}
console.log(JSON.stringify({ plain, streamed, usage: final.usage, errorType }));
